package db

import (
	"context"
	"fmt"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var batched = Strategy{
	Name:           "batched",
	ChooseWhen:     "one hotel is very hot (a flash sale) and a few milliseconds of waiting for a batch are acceptable",
	Price:          "each request waits for the batch ahead of it to commit; each server batches only what reaches it, so spreading a hotel over N servers makes N smaller batches: route each hotel to one server",
	Safe:           true,
	BookBatch:      bookBatch,
	BookBatchKeyed: bookBatchKeyed,
}

// bookBatch books reqs, all for the hotel of reqs[0], in one statement and
// answers each in order, each booking with its key (keys[i], nil: none; or
// keys nil: no key at all), which the transaction has claimed. See
// queries/batched.sql.
func bookBatch(ctx context.Context, st Statements, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) ([]evento.Outcome[evento.Booking], error) {
	rows, err := runBatchBook(ctx, st, reqs, keys, false)
	if err != nil {
		return nil, err
	}
	outcomes := make([]evento.Outcome[evento.Booking], len(reqs))
	if len(rows) == 0 {
		// No row to lock: the hotel is not part of the event.
		for i := range outcomes {
			outcomes[i] = evento.Refused[evento.Booking](evento.HotelNotFound(reqs[0].EventID, reqs[0].HotelID))
		}
		return outcomes, nil
	}
	for i, row := range rows {
		if row.Booked {
			outcomes[i] = evento.Done(newBooking(row.ReservationID, reqs[i]))
		} else {
			outcomes[i] = evento.Refused[evento.Booking](&evento.ShortfallError{Available: max(row.LeftBefore, 0), Requested: reqs[i].Rooms})
		}
	}
	return outcomes, nil
}

// bookBatchKeyed is bookBatch for a batch with idempotency keys, as ONE
// autocommit statement that also claims every key (queries/batched.sql,
// BatchBook with claim_keys). done is false when it committed nothing: a
// key was busy or used before, or a request would be refused, or the
// hotel is unknown; the batch then takes the general path, which tells
// those cases apart.
func bookBatchKeyed(ctx context.Context, st Statements, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) (bookings []evento.Booking, done bool, err error) {
	rows, err := runBatchBook(ctx, st, reqs, keys, true)
	if committedNothing(err) {
		return nil, false, nil
	}
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	bookings = make([]evento.Booking, len(reqs))
	for i, row := range rows {
		if !row.Booked {
			// Then none is: the statement wrote nothing.
			return nil, false, nil
		}
		bookings[i] = newBooking(row.ReservationID, reqs[i])
	}
	return bookings, true, nil
}

// runBatchBook runs BatchBook for reqs and their keys, and checks that it
// answered each request (or none: no hotel, or the keys not claimed).
func runBatchBook(ctx context.Context, st Statements, reqs []evento.BookRequest, keys []*evento.IdempotencyKey, claimKeys bool) ([]dbsqlc.BatchBookRow, error) {
	n := len(reqs)
	params := dbsqlc.BatchBookParams{
		EventID: reqs[0].EventID, HotelID: reqs[0].HotelID,
		Names: make([]string, n), RoomCounts: make([]int32, n), ClientIds: make([]int64, n),
		Keys: make([]string, n), Fingerprints: make([]string, n), ClaimKeys: claimKeys,
	}
	for i, r := range reqs {
		params.Names[i], params.RoomCounts[i], params.ClientIds[i] = r.Name, r.Rooms, int64(r.Client)
		if i < len(keys) && keys[i] != nil {
			params.Keys[i], params.Fingerprints[i] = keys[i].Key, keys[i].Fingerprint
			params.KeepSeconds = max(params.KeepSeconds, keepSeconds(*keys[i]))
		}
	}
	rows, err := st.Q.BatchBook(ctx, st.Write, params)
	if err != nil {
		return nil, fmt.Errorf("book a batch of %d: %w", n, err)
	}
	if len(rows) != 0 && len(rows) != n {
		return nil, fmt.Errorf("book a batch of %d: %d answers", n, len(rows))
	}
	return rows, nil
}
