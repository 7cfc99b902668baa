package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// A write that takes rooms (a booking of any strategy, a hold) and comes
// up short is not finished: this file is what it does then, inside its
// transaction, before its outcomes are stored.

// freeingOverdueHolds runs try for n requests at one hotel. When some were
// refused for lack of rooms, overdue holds may be what took them: their
// rooms are given back and try runs once more for the refused ones, in
// order. (Not a retry of the transaction: write, in engine.go, alone does
// that.) A shortfall still left learns what it could not reach
// (tellOutOfReach). This is the one place where a write frees dead holds;
// reachesBuckets says whether try books a sharded hotel's buckets.
func freeingOverdueHolds[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, hotel evento.BookRequest, n int, reachesBuckets bool,
	try func(todo []int) ([]evento.Outcome[T], error),
) ([]evento.Outcome[T], error) {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	outcomes, err := try(all)
	if err != nil {
		return nil, err
	}
	var refused []int
	for i, o := range outcomes {
		if isShortfall(o.Refusal) {
			refused = append(refused, i)
		}
	}
	if len(refused) == 0 {
		return outcomes, nil
	}
	freed, err := releaseOverdueHolds(ctx, q, tx, hotel)
	if err != nil {
		return nil, err
	}
	if freed > 0 {
		again, err := try(refused)
		if err != nil {
			return nil, err
		}
		for j, i := range refused {
			outcomes[i] = again[j]
		}
	}
	return outcomes, tellOutOfReach(ctx, q, tx, hotel, reachesBuckets, outcomes)
}

// releaseOverdueHolds gives back the rooms of the hotel's holds that are
// past expiry and returns how many rooms came back.
func releaseOverdueHolds(ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, hotel evento.BookRequest) (int32, error) {
	freed, err := q.ExpireHotelHolds(ctx, tx, dbsqlc.ExpireHotelHoldsParams{EventID: hotel.EventID, HotelID: hotel.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("release overdue holds: %w", err)
	}
	return freed, nil
}

// tellOutOfReach adds to each shortfall the rooms the hotel has in live
// holds, so that a request that would fit once they come back is told to
// wait (evento.ErrRoomsHeld) instead of that the hotel is sold out, and
// when the rooms it lacks are back at the latest; and, unless the request
// reached them, the free rooms in the hotel's buckets
// (evento.ErrInventorySharded).
func tellOutOfReach[T any](ctx context.Context, q *dbsqlc.Queries, tx dbsqlc.DBTX, hotel evento.BookRequest, reachesBuckets bool, outcomes []evento.Outcome[T]) error {
	var shortfalls []*evento.ShortfallError
	var lacking int32 // the most rooms any of them lacks
	for _, o := range outcomes {
		var shortfall *evento.ShortfallError
		if errors.As(o.Refusal, &shortfall) {
			shortfalls = append(shortfalls, shortfall)
			lacking = max(lacking, shortfall.Requested-max(shortfall.Available, 0))
		}
	}
	if len(shortfalls) == 0 {
		return nil
	}
	out, err := q.HotelRoomsOutOfReach(ctx, tx, dbsqlc.HotelRoomsOutOfReachParams{EventID: hotel.EventID, HotelID: hotel.HotelID, Rooms: max(lacking, 1)})
	if err != nil {
		return fmt.Errorf("read held and bucketed rooms: %w", err)
	}
	for _, shortfall := range shortfalls {
		shortfall.Held = out.Rooms
		if n := len(out.RoomExpiries); n > 0 {
			// The k-th held room to come back is the last this request
			// lacks; fewer held than it lacks, it is not told to wait.
			lacks := int(max(shortfall.Requested-max(shortfall.Available, 0), 1))
			shortfall.HeldUntil = out.RoomExpiries[min(lacks, n)-1]
		}
		if !reachesBuckets {
			shortfall.Bucketed = out.Bucketed
		}
	}
	return nil
}

func isShortfall(err error) bool {
	var shortfall *evento.ShortfallError
	return errors.As(err, &shortfall)
}
