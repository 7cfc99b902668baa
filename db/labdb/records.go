package labdb

import (
	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"

	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// HotelRecord is what the database holds for one hotel of an event: the
// counters and the reservation rows, read in one snapshot.
type HotelRecord struct {
	EventID      int64
	HotelID      int64
	HotelName    string
	Assigned     int64
	Reserved     int64
	Locked       int64
	Booked       int64           // sum of the reservation rows
	Reservations map[int64]int64 // reservation id -> rooms
	// Owners are the reservations' clients (evento.Anonymous without a
	// key), by reservation id.
	Owners map[int64]evento.ClientID
	Holds  HoldCounts
	// LiveHeldRooms are the rooms of holds still alive: all that locked may
	// account for.
	LiveHeldRooms int64
}

// HoldCounts counts holds by fate; a 'held' hold past expiry is expired.
type HoldCounts struct {
	Placed      int64 `json:"placed"`
	Confirmed   int64 `json:"confirmed"`
	Released    int64 `json:"released"`
	Expired     int64 `json:"expired"`
	ActiveAtEnd int64 `json:"active_at_end"`
}

// EventRecords reads every hotel of the events, counters and rows together
// in one REPEATABLE READ snapshot, so they are compared as of one instant.
func EventRecords(ctx context.Context, pool *pgxpool.Pool, eventIDs []int64) ([]HotelRecord, error) {
	var records []HotelRecord
	snapshot := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	err := pgx.BeginTxFunc(ctx, pool, snapshot, func(tx pgx.Tx) error {
		q := dbsqlc.New()
		totals, err := q.HotelTotals(ctx, tx, eventIDs)
		if err != nil {
			return fmt.Errorf("hotel totals: %w", err)
		}
		rows, err := q.ListEventReservations(ctx, tx, eventIDs)
		if err != nil {
			return fmt.Errorf("reservations: %w", err)
		}
		holds, err := q.HoldTotals(ctx, tx, eventIDs)
		if err != nil {
			return fmt.Errorf("hold totals: %w", err)
		}
		byHotel := map[[2]int64]int{}
		records = make([]HotelRecord, len(totals))
		for i, t := range totals {
			records[i] = HotelRecord{
				EventID: t.EventID, HotelID: t.HotelID, HotelName: t.HotelName,
				Assigned: int64(t.Assigned), Reserved: int64(t.Reserved), Locked: int64(t.Locked),
				Booked: t.Booked, Reservations: map[int64]int64{}, Owners: map[int64]evento.ClientID{},
			}
			byHotel[[2]int64{t.EventID, t.HotelID}] = i
		}
		for _, r := range rows {
			record := &records[byHotel[[2]int64{r.EventID, r.HotelID}]]
			record.Reservations[r.ID] = int64(r.Number)
			record.Owners[r.ID] = evento.ClientID(r.ClientID)
		}
		for _, h := range holds {
			record := &records[byHotel[[2]int64{h.EventID, h.HotelID}]]
			record.Holds = HoldCounts{Placed: h.Placed, Confirmed: h.Confirmed, Released: h.Released, Expired: h.Expired, ActiveAtEnd: h.Active}
			record.LiveHeldRooms = h.LiveHeldRooms
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read records of events %v: %w", eventIDs, err)
	}
	return records, nil
}

// WaitForHoldsToSettle waits until every live hold of the events has
// expired, then for sweep more: abandoned holds must have given their
// rooms back before a run is judged. It gives up when ctx ends.
func WaitForHoldsToSettle(ctx context.Context, pool *pgxpool.Pool, eventIDs []int64, sweep time.Duration) error {
	latest, err := dbsqlc.New().LatestHoldExpiry(ctx, pool, eventIDs)
	if err != nil {
		return fmt.Errorf("latest hold expiry: %w", err)
	}
	timer := time.NewTimer(time.Until(latest) + sweep)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// KeyedReservations returns the reservation stored under each of keys that
// holds a booking; keys that hold no booking are absent.
func KeyedReservations(ctx context.Context, pool *pgxpool.Pool, keys []string) (map[string]int64, error) {
	rows, err := dbsqlc.New().KeyedReservations(ctx, pool, keys)
	if err != nil {
		return nil, fmt.Errorf("read the reservations stored under %d idempotency keys: %w", len(keys), err)
	}
	return storedByKey(rows), nil
}

// KeyedReservationsWithPrefix returns the reservation stored under every
// key that starts with prefix (scoped to an API client or not) and holds
// a booking.
func KeyedReservationsWithPrefix(ctx context.Context, pool *pgxpool.Pool, prefix string) (map[string]int64, error) {
	rows, err := dbsqlc.New().KeyedReservationsWithPrefix(ctx, pool, prefix)
	if err != nil {
		return nil, fmt.Errorf("read the reservations stored under the keys %s…: %w", prefix, err)
	}
	return storedByKey(rows), nil
}

// storedByKey maps each key the rows of either keyed reservations query
// name to its reservation.
func storedByKey[Row dbsqlc.KeyedReservationsRow | dbsqlc.KeyedReservationsWithPrefixRow](rows []Row) map[string]int64 {
	stored := make(map[string]int64, len(rows))
	for _, r := range rows {
		row := dbsqlc.KeyedReservationsRow(r)
		stored[row.Key] = row.ReservationID
	}
	return stored
}
