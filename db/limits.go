package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// The per-client purchase limit (queries/limits.sql): a step of every
// booking and hold of a client with a limit, in the same transaction as
// the write it guards, before the strategy touches the hotel.

// limitApplies says whether req's client has a limit at the event. The
// anonymous client never has one: it is every client of a server without
// authentication, so its limit would be everyone's together.
func limitApplies(req evento.BookRequest) bool {
	return req.MaxRoomsPerEvent > 0 && req.Client != evento.Anonymous
}

// anyLimited says whether some of reqs have a limit: their write then
// needs a transaction, and not the keyed autocommit fast path, since the
// count and the booking must commit together under the lock.
func anyLimited(reqs ...evento.BookRequest) bool {
	for _, r := range reqs {
		if limitApplies(r) {
			return true
		}
	}
	return false
}

// inTransaction is p, with a READ COMMITTED transaction when p has none.
func (p txPolicy) inTransaction() txPolicy {
	if p.tx == nil {
		p.tx = readCommitted
	}
	return p
}

// checkClientLimits refuses, one by one, the requests (all for one event)
// that would take their client over its limit, counting the earlier
// requests of reqs it let through as booked: the answer for request i is
// refusals[i], nil when it may go on (nil altogether when none has a
// limit). It locks each limited client at the event until the transaction
// ends, so no other write of the client at the event, on any server, counts
// before this one commits or rolls back. A request it let through that is
// then refused for lack of rooms used up allowance it did not take: a later
// request of the same client in the same batch may be refused for the
// limit although it would have fit. That errs on the safe side, and only
// inside one batch.
func checkClientLimits(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, reqs []evento.BookRequest) (refusals []error, err error) {
	var clients []int64
	for _, r := range reqs {
		if limitApplies(r) {
			clients = append(clients, int64(r.Client))
		}
	}
	if len(clients) == 0 {
		return nil, nil
	}
	eventID := reqs[0].EventID
	if _, err := q.LockClientEvent(ctx, tx, dbsqlc.LockClientEventParams{EventID: eventID, ClientIds: clients}); err != nil {
		return nil, fmt.Errorf("lock the clients at event %d: %w", eventID, err)
	}
	counts, err := q.ClientEventRooms(ctx, tx, dbsqlc.ClientEventRoomsParams{EventID: eventID, ClientIds: clients})
	if err != nil {
		return nil, fmt.Errorf("count the clients' rooms at event %d: %w", eventID, err)
	}
	has := make(map[evento.ClientID]int32, len(counts))
	for _, c := range counts {
		has[evento.ClientID(c.ClientID)] = c.Rooms
	}
	refusals = make([]error, len(reqs))
	var notFound error // the hotel's refusal, asked once, on the first refusal
	asked := false
	for i, r := range reqs {
		if !limitApplies(r) {
			continue
		}
		if r.Rooms <= r.MaxRoomsPerEvent-has[r.Client] {
			has[r.Client] += r.Rooms
			continue
		}
		if !asked {
			if notFound, err = unknownHotel(ctx, q, tx, r); err != nil {
				return nil, err
			}
			asked = true
		}
		refusals[i] = notFound
		if notFound == nil {
			refusals[i] = &evento.ClientLimitError{EventID: r.EventID, Has: has[r.Client], Requested: r.Rooms, Limit: r.MaxRoomsPerEvent}
		}
	}
	return refusals, nil
}

// unknownHotel is not_found for a request over its limit at a hotel that
// is not part of the event, as the strategy would have answered: a booking
// of nowhere is not refused for the limit (and, not_found being no kept
// refusal, keeps no key). nil for a hotel of the event.
func unknownHotel(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, r evento.BookRequest) (refusal, err error) {
	_, err = q.GetHotelRooms(ctx, tx, dbsqlc.GetHotelRoomsParams{EventID: r.EventID, HotelID: r.HotelID})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return evento.HotelNotFound(r.EventID, r.HotelID), nil
	case err != nil:
		return nil, fmt.Errorf("read hotel %d of event %d: %w", r.HotelID, r.EventID, err)
	}
	return nil, nil
}
