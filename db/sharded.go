package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

var sharded = Strategy{
	Name:       "sharded",
	ChooseWhen: "one hotel is too hot for one row lock, and requests must not wait for a batch",
	Price:      "it cannot take holds, and the last rooms, scattered over buckets, take a slower path that locks them all",
	Safe:       true,
	Attempts:   3,
	Book:       bookSharded,
	BookKeyed:  bookShardedKeyed,
	Buckets:    true,
}

// bookSharded books in one of the hotel's buckets that has room (one not
// locked, or else a random one once it is free), or, when none can take
// the whole request, across all of them once it holds them all. See
// queries/sharded.sql.
func bookSharded(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	for _, pick := range []struct {
		what string
		book func(context.Context, dbsqlc.DBTX, dbsqlc.ShardedBookFreeParams) (int64, error)
	}{
		{"book a free bucket", st.Q.ShardedBookFree},
		{"wait for a bucket with room", func(ctx context.Context, tx dbsqlc.DBTX, p dbsqlc.ShardedBookFreeParams) (int64, error) {
			return st.Q.ShardedBookWaiting(ctx, tx, dbsqlc.ShardedBookWaitingParams(p))
		}},
	} {
		id, booked, err := pickBucket(ctx, st, func() (int64, error) {
			return pick.book(ctx, st.Write, dbsqlc.ShardedBookFreeParams{
				EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms, ClientID: clientParam(req.Client),
			})
		})
		if err != nil {
			return evento.Booking{}, fmt.Errorf("%s: %w", pick.what, err)
		}
		if booked {
			return newBooking(id, req), nil
		}
	}
	id, err := st.Q.ShardedBookScattered(ctx, st.Write, dbsqlc.ShardedBookScatteredParams{
		EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms, ClientID: clientParam(req.Client),
	})
	if err == nil {
		return newBooking(id, req), nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, fmt.Errorf("book across all buckets: %w", err)
	}
	rooms, err := st.Q.ShardedHotelRooms(ctx, st.Read, dbsqlc.ShardedHotelRoomsParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return evento.Booking{}, evento.HotelNotFound(req.EventID, req.HotelID)
	}
	if err != nil {
		return evento.Booking{}, fmt.Errorf("read bucket rooms: %w", err)
	}
	if rooms.Buckets == 0 {
		// Not split: the hotel's row is its one bucket.
		return bookAtomic(ctx, st, req)
	}
	if err := evento.CheckFits(rooms.Free, req.Rooms); err != nil {
		return evento.Booking{}, err
	}
	// Only reached if rooms came back to a bucket (a cancel) or a bucket
	// was added since the buckets were counted; the client may try again.
	return evento.Booking{}, evento.ErrConflict
}

// pickBucket runs one pick (a statement that books a bucket, or nothing).
// Inside a transaction it runs in a savepoint, rolled back when the pick
// booked nothing: a locking read keeps a row it re-checked and rejected
// locked to the end of the transaction, and a booking that went on to wait
// for other buckets while holding it could deadlock with one waiting for
// it. Rolling back to the savepoint releases the row locks taken since.
// Outside one, the statement's own transaction has ended already.
func pickBucket(ctx context.Context, st Statements, pick func() (int64, error)) (id int64, booked bool, err error) {
	if !inTransaction(st.Read) {
		id, err = pick()
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, false, nil
		}
		return id, err == nil, err
	}
	if _, err := st.Read.Exec(ctx, "SAVEPOINT sharded_pick"); err != nil {
		return 0, false, fmt.Errorf("savepoint: %w", err)
	}
	id, err = pick()
	switch {
	case err == nil:
		if _, err := st.Read.Exec(ctx, "RELEASE SAVEPOINT sharded_pick"); err != nil {
			return 0, false, fmt.Errorf("release savepoint: %w", err)
		}
		return id, true, nil
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := st.Read.Exec(ctx, "ROLLBACK TO SAVEPOINT sharded_pick"); err != nil {
			return 0, false, fmt.Errorf("roll back to savepoint: %w", err)
		}
		return 0, false, nil
	default:
		return 0, false, err
	}
}

// bookShardedKeyed is bookSharded's steps 1 and 2 for a request with an
// idempotency key, each as one autocommit statement that also claims the
// key and records it on the reservation (queries/sharded.sql, ShardedBookKeyed and
// ShardedBookKeyedWaiting), as bookAtomicKeyed does. done is false when
// neither committed anything: the key busy or used before, or no bucket
// with room for the whole request; the general path then runs every step.
func bookShardedKeyed(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey) (booking evento.Booking, done bool, err error) {
	params := dbsqlc.ShardedBookKeyedParams{
		EventID:     req.EventID,
		HotelID:     req.HotelID,
		Name:        req.Name,
		Rooms:       req.Rooms,
		ClientID:    clientParam(req.Client),
		Key:         key.Key,
		Fingerprint: key.Fingerprint,
		TtlSeconds:  keepSeconds(key),
	}
	id, err := st.Q.ShardedBookKeyed(ctx, st.Write, params)
	if !errors.Is(err, pgx.ErrNoRows) {
		// Booked, or the key was used before (its row undid the statement),
		// or failed: a wait for a bucket would change none of these.
		return keyedOutcome(id, err, req)
	}
	// No free bucket with room (or the key busy, which the next statement
	// finds at once): wait for one, in a statement of its own, so holding
	// nothing that the first one left locked.
	id, err = st.Q.ShardedBookKeyedWaiting(ctx, st.Write, dbsqlc.ShardedBookKeyedWaitingParams(params))
	return keyedOutcome(id, err, req)
}
