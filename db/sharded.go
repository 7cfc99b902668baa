package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// bookSharded books in one of the hotel's buckets that has room (one not
// locked, or else a random one once it is free), or, when none has room
// for the whole request, across all of them once it holds them all. See
// queries/sharded.sql.
func bookSharded(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error) {
	picked, err := st.Q.ShardedBook(ctx, st.Write, dbsqlc.ShardedBookParams{
		EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms,
	})
	switch {
	case err != nil:
		return evento.Booking{}, fmt.Errorf("book a bucket: %w", err)
	case picked.ReservationID != 0:
		return newBooking(picked.ReservationID, req), nil
	case picked.BucketID != 0:
		// The bucket it waited for filled first, and stays locked until
		// COMMIT: locking the others now could deadlock. The client retries.
		return evento.Booking{}, evento.ErrConflict
	}
	id, err := st.Q.ShardedBookScattered(ctx, st.Write, dbsqlc.ShardedBookScatteredParams{
		EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms,
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
	// Booked rooms never come back to a bucket, so this is only reached if
	// a bucket was added since; the client may try again.
	return evento.Booking{}, evento.ErrConflict
}

// bookShardedKeyed is bookSharded's first step for a request with an
// idempotency key, as one autocommit statement that also claims the key
// and stores the booking (queries/sharded.sql, ShardedBookKeyed), as
// bookAtomicKeyed does. done is false when it committed nothing: the key
// busy or used before, or no single bucket with room; the general path
// then runs every step.
func bookShardedKeyed(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey) (booking evento.Booking, done bool, err error) {
	id, err := st.Q.ShardedBookKeyed(ctx, st.Write, dbsqlc.ShardedBookKeyedParams{
		EventID:     req.EventID,
		HotelID:     req.HotelID,
		Name:        req.Name,
		Rooms:       req.Rooms,
		Key:         key.Key,
		Fingerprint: key.Fingerprint,
		TtlSeconds:  int32(key.Keep / time.Second),
	})
	return keyedOutcome(id, err, req)
}
