package db

import (
	"context"
	"fmt"

	"github.com/evento-lab/evento"
)

// Hot-row admission. Every booking of a hotel by atomic, pessimistic,
// optimistic, serializable or advisory queues on one lock: the hotel's row
// (or its advisory lock). Inside PostgreSQL a queue is expensive: each
// waiter holds a pooled connection and a backend, and every commit wakes
// all the waiters to queue again, so the CPU a booking costs grows with
// the queue (docs/performance.md). Behind a small PgBouncer pool it is
// worse: waiters fill the pool, every other request queues in PgBouncer
// where no server sees it, and a request that gets a connection just
// before its deadline is cancelled after it took the lock, its work thrown
// away (congestion collapse, docs/api.md). So a server lets at most
// Options.HotelAdmission of its bookings per hotel into PostgreSQL at once;
// the rest wait in the server, for free, until their turn or their
// deadline, which answers 503 with nothing written.
//
// Left out: naive, which is unsafe and must stay free to race (admission
// would hide its anomaly on one server); batched, whose Batcher already
// sends one batch per hotel at a time; sharded, whose bookings spread over
// bucket rows.

// hotelRef is one hotel at one event: the row a booking locks.
type hotelRef struct{ event, hotel int64 }

// admitted says whether the store gates the strategy's bookings per hotel.
func (s Strategy) admitted() bool {
	return s.Safe && s.BookBatch == nil && !s.Buckets
}

// admit waits for a turn at the request's hotel; leave ends it. With
// admission off it returns at once.
func (s *Store) admit(ctx context.Context, req evento.BookRequest) (leave func(), err error) {
	if s.hotels == nil {
		return func() {}, nil
	}
	leave, err = s.hotels.enter(ctx, hotelRef{req.EventID, req.HotelID})
	if err != nil {
		return nil, fmt.Errorf("%w: wait for a turn at hotel %d: %w", evento.ErrUnavailable, req.HotelID, err)
	}
	return leave, nil
}
