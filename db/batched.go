package db

import (
	"context"
	"fmt"
)

// batchOutcome is what one request of a batch got.
type batchOutcome struct {
	booking Booking
	err     error
}

// bookBatch books reqs, all for the hotel of reqs[0], in one statement and
// answers each in order. See queries/batched.sql. When some were refused
// and overdue holds were what took the rooms, those rooms are given back
// and the refused requests are booked once more, in order.
func bookBatch(ctx context.Context, q *Queries, reqs []BookRequest) ([]batchOutcome, error) {
	outcomes, err := bookBatchOnce(ctx, q, reqs)
	if err != nil {
		return nil, err
	}
	var refused []int
	for i, o := range outcomes {
		if isShortfall(o.err) {
			refused = append(refused, i)
		}
	}
	if len(refused) == 0 {
		return outcomes, nil
	}
	if freed, err := releaseOverdueHolds(ctx, q, reqs[0]); err != nil || freed == 0 {
		return outcomes, err
	}
	again := make([]BookRequest, len(refused))
	for j, i := range refused {
		again[j] = reqs[i]
	}
	second, err := bookBatchOnce(ctx, q, again)
	if err != nil {
		return nil, err
	}
	for j, i := range refused {
		outcomes[i] = second[j]
	}
	return outcomes, nil
}

func bookBatchOnce(ctx context.Context, q *Queries, reqs []BookRequest) ([]batchOutcome, error) {
	params := BatchBookParams{
		EventID: reqs[0].EventID, HotelID: reqs[0].HotelID,
		Names: make([]string, len(reqs)), RoomCounts: make([]int32, len(reqs)),
	}
	for i, r := range reqs {
		params.Names[i], params.RoomCounts[i] = r.Name, r.Rooms
	}
	rows, err := q.BatchBook(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("book a batch of %d: %w", len(reqs), err)
	}
	outcomes := make([]batchOutcome, len(reqs))
	if len(rows) == 0 {
		// No row to lock: the hotel is not part of the event.
		for i := range outcomes {
			outcomes[i].err = hotelNotFound(params.EventID, params.HotelID)
		}
		return outcomes, nil
	}
	if len(rows) != len(reqs) {
		return nil, fmt.Errorf("book a batch of %d: %d answers", len(reqs), len(rows))
	}
	for i, row := range rows {
		if row.Booked {
			outcomes[i].booking = newBooking(row.ReservationID, reqs[i])
		} else {
			outcomes[i].err = &ShortfallError{Available: max(row.LeftBefore, 0), Requested: reqs[i].Rooms}
		}
	}
	return outcomes, nil
}

// bookBatchOfOne is the batched strategy for a single request outside the
// Batcher (in an idempotency key's transaction, or in tests): the same
// statement, with a batch of one.
func bookBatchOfOne(ctx context.Context, q *Queries, req BookRequest) (Booking, error) {
	outcomes, err := bookBatch(ctx, q, []BookRequest{req})
	if err != nil {
		return Booking{}, err
	}
	return outcomes[0].booking, outcomes[0].err
}
