package explain

import (
	"context"
	"fmt"
	"strings"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
)

// subject is a row of the table: a strategy of the registry, running its
// real Go code (db.Strategy.Book or BookBatch), or the check-then-act
// anti-pattern, which no booking path runs. Every statement book sends
// through read or write is one step of the schedule (see stepper).
type subject struct {
	name      string
	isolation string
	strategy  bool // false for the anti-pattern
	buckets   int  // above 0: the hotel is split into that many bucket rows (db.Strategy.Buckets)
	attempts  int  // db.Strategy.Attempts: above 1, the write path reruns a conflict before the client hears of it
	// book runs the subject's code for req; key is the idempotency key the
	// session claimed (nil: none), which a batch's statement writes on its
	// reservation (a single booking's takes it from the claim).
	book func(ctx context.Context, read, write *stepper, req evento.BookRequest, key *evento.IdempotencyKey) (evento.Booking, error)
}

const (
	readCommitted  = "READ COMMITTED"
	repeatableRead = "REPEATABLE READ"
	serializable   = "SERIALIZABLE"
	// The anti-pattern's rows of the table: check-then-act at two isolation levels.
	CheckThenActRC = "check-then-act (read committed)"
	CheckThenActRR = "check-then-act (repeatable read)"
)

// subjectsOf lists the table's rows: every strategy (nil: db.Strategies),
// in the registry's order, then the anti-pattern.
func subjectsOf(strategies []db.Strategy) []subject {
	if strategies == nil {
		strategies = db.Strategies
	}
	out := make([]subject, 0, len(strategies)+2)
	for _, s := range strategies {
		out = append(out, strategySubject(s))
	}
	return append(out,
		subject{name: CheckThenActRC, isolation: readCommitted, book: checkThenAct},
		subject{name: CheckThenActRR, isolation: repeatableRead, book: checkThenAct})
}

// strategySubject runs s's own Go code. Every session is a transaction,
// at s.Tx's isolation level, or READ COMMITTED for a strategy that needs
// none (atomic, optimistic, sharded, batched): the level the write path
// opens for a request with an idempotency key, and the one way a step
// can be held open while another session runs.
func strategySubject(s db.Strategy) subject {
	isolation := readCommitted
	if s.Tx != nil && s.Tx.IsoLevel != "" {
		isolation = strings.ToUpper(string(s.Tx.IsoLevel))
	}
	sub := subject{name: s.Name, isolation: isolation, strategy: true, attempts: s.Attempts}
	if s.Buckets {
		// One room in each of two buckets, and each session asks for
		// both: no bucket has them all, so both take the scattered path.
		sub.buckets = Rooms
	}
	sub.book = func(ctx context.Context, read, write *stepper, req evento.BookRequest, key *evento.IdempotencyKey) (evento.Booking, error) {
		st := db.StepStatements(read, write)
		if s.Book != nil {
			return s.Book(ctx, st, req)
		}
		// A batched strategy: the session's request is a batch of one.
		var keys []*evento.IdempotencyKey
		if key != nil {
			keys = []*evento.IdempotencyKey{key}
		}
		outcomes, err := s.BookBatch(ctx, st, []evento.BookRequest{req}, keys)
		if err != nil {
			return evento.Booking{}, err
		}
		if len(outcomes) != 1 {
			return evento.Booking{}, fmt.Errorf("%s answered %d outcomes for a batch of 1", s.Name, len(outcomes))
		}
		return outcomes[0].Value, outcomes[0].Refusal
	}
	return sub
}

// checkThenAct is queries/check_then_act.sql as the brief first imagined
// it: read what is left, refuse in Go if too few, else add
// unconditionally. It is the anti-pattern's one definition: no booking
// path in db may run it.
func checkThenAct(ctx context.Context, read, write *stepper, req evento.BookRequest, _ *evento.IdempotencyKey) (evento.Booking, error) {
	r, err := read.run(ctx, mustNamed("CheckThenActRead", map[string]any{"event_id": req.EventID, "hotel_id": req.HotelID}))
	var id int64
	var available int32
	if err := (firstRow{r, err}).Scan(&id, &available); err != nil {
		return evento.Booking{}, fmt.Errorf("check: %w", err)
	}
	if err := evento.CheckFits(available, req.Rooms); err != nil {
		return evento.Booking{}, err
	}
	r, err = write.run(ctx, mustNamed("CheckThenActBook", map[string]any{
		"event_hotel_rooms_id": id, "name": req.Name, "rooms": req.Rooms, "client_id": nil,
	}))
	booking := evento.Booking{EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms}
	if err := (firstRow{r, err}).Scan(&booking.ReservationID); err != nil {
		return evento.Booking{}, fmt.Errorf("act: %w", err)
	}
	return booking, nil
}

// afterConflict says what the write path does with the subject's
// conflict, which a session ends with: rerun it in the server, as many
// times as the strategy's Attempts allow, before the client is told.
func (p subject) afterConflict() string {
	if p.attempts > 1 {
		return fmt.Sprintf("the server reruns it after a backoff, %d runs in all, then the client retries", p.attempts)
	}
	return "the client retries"
}
