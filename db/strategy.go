package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BookRequest asks for rooms at one hotel of one event.
type BookRequest struct {
	EventID int64
	HotelID int64
	Name    string
	Rooms   int32
}

// Booking is a reservation a strategy made.
type Booking struct {
	ReservationID int64
	EventID       int64
	HotelID       int64
	Name          string
	Rooms         int32
}

// Strategy is one concurrency-control discipline for booking rooms. Its SQL
// lives in queries/<Name>.sql and its Book function sequences those queries;
// adding a strategy means one SQL file, one Book function and one entry in
// Strategies.
type Strategy struct {
	Name string
	// Summary says in one line how the strategy avoids (or fails to avoid)
	// overbooking.
	Summary string
	// Safe is false for strategies that can overbook under concurrency.
	// Reports never trust it (they judge a run from the database alone);
	// the tests use it, and a write of a safe strategy that hits the
	// capacity CHECK is a bug reported as such (see caughtBySafetyNet).
	Safe bool
	// Tx, when set, runs Book inside one transaction with these options; nil
	// runs each statement as its own transaction.
	Tx *pgx.TxOptions
	// Attempts, when above 1, reruns the whole transaction on serialization
	// failures and deadlocks, up to this many times in all.
	Attempts int
	// Batched strategies are served through a Batcher, which books many
	// requests per transaction; Book is their batch of one.
	Batched bool
	// Book makes one reservation with the queries of q. It returns a domain
	// error (ErrNotFound, a *ShortfallError, ErrConflict) when it books nothing.
	Book func(ctx context.Context, q *Queries, req BookRequest) (Booking, error)
}

var readCommitted = &pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// Strategies lists every strategy, in the order reports show them.
var Strategies = []Strategy{
	{
		Name:    "naive",
		Summary: "read, decide in Go, write the absolute counter: no concurrency control (overbooks)",
		Safe:    false,
		Tx:      readCommitted,
		Book:    bookNaive,
	},
	{
		Name:    "pessimistic",
		Summary: "SELECT ... FOR UPDATE on the hotel's row, then check and write",
		Safe:    true,
		Tx:      readCommitted,
		Book:    bookPessimistic,
	},
	{
		Name:    "atomic",
		Summary: "one conditional UPDATE ... WHERE reserved + locked + n <= assigned",
		Safe:    true,
		Book:    bookAtomic,
	},
	{
		Name:    "optimistic",
		Summary: "compare-and-swap on updated_at; a lost race is a retryable conflict",
		Safe:    true,
		Book:    bookOptimistic,
	},
	{
		Name:     "serializable",
		Summary:  "naive's statements in a SERIALIZABLE transaction, rerun on serialization failures",
		Safe:     true,
		Tx:       &pgx.TxOptions{IsoLevel: pgx.Serializable},
		Attempts: 10,
		Book:     bookNaive,
	},
	{
		Name:    "advisory",
		Summary: "pg_advisory_xact_lock on the hotel's key, then read, check and write",
		Safe:    true,
		Tx:      readCommitted,
		Book:    bookAdvisory,
	},
	{
		Name:    "batched",
		Summary: "group commit: concurrent requests for a hotel booked in one statement, answered in arrival order",
		Safe:    true,
		Batched: true,
		Book:    bookBatchOfOne,
	},
}

// LookupStrategy finds a strategy by name.
func LookupStrategy(name string) (Strategy, bool) {
	i := slices.IndexFunc(Strategies, func(s Strategy) bool { return s.Name == name })
	if i < 0 {
		return Strategy{}, false
	}
	return Strategies[i], true
}

// StrategyNames lists the strategies' names, comma-separated, for messages.
func StrategyNames() string {
	names := make([]string, len(Strategies))
	for i, s := range Strategies {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// Reserve books rooms with strategy s on pool, inside a transaction when the
// strategy asks for one.
func Reserve(ctx context.Context, pool *pgxpool.Pool, s Strategy, req BookRequest) (Booking, error) {
	return reserve(ctx, pool, s, req, reserveOptions{})
}

// reserveOptions are the Store's knobs for one reservation.
type reserveOptions struct {
	raceWindow time.Duration // see raceWindow
	onRetry    func()        // told about each rerun after a serialization failure
}

// reserve is Reserve with the Store's options. When the strategy finds too
// few rooms, overdue holds may be what took them: their rooms are given
// back and the strategy runs once more.
func reserve(ctx context.Context, pool *pgxpool.Pool, s Strategy, req BookRequest, opts reserveOptions) (Booking, error) {
	var booking Booking
	attempt := func() (err error) {
		booking, err = reserveOnce(ctx, pool, s, req, opts.raceWindow)
		return err
	}
	err := retrySerializationFailures(ctx, s.Attempts, opts.onRetry, attempt)
	if isShortfall(err) {
		if freed, ferr := releaseOverdueHolds(ctx, New(pool), req); ferr == nil && freed > 0 {
			err = retrySerializationFailures(ctx, s.Attempts, opts.onRetry, attempt)
		}
	}
	if err != nil {
		return Booking{}, fmt.Errorf("reserve %d rooms (%s): %w", req.Rooms, s.Name, classifyWrite(caughtBySafetyNet(s, err)))
	}
	return booking, nil
}

func reserveOnce(ctx context.Context, pool *pgxpool.Pool, s Strategy, req BookRequest, window time.Duration) (Booking, error) {
	var booking Booking
	book := func(conn DBTX) error {
		if window > 0 {
			conn = raceWindow{DBTX: conn, delay: window}
		}
		var err error
		booking, err = s.Book(ctx, New(conn), req)
		return err
	}
	err := withConn(ctx, pool, func(conn *pgxpool.Conn) error {
		if s.Tx == nil {
			return book(conn)
		}
		return pgx.BeginTxFunc(ctx, conn, *s.Tx, func(tx pgx.Tx) error { return uncommitted(book(tx)) })
	})
	return booking, err
}

func newBooking(id int64, req BookRequest) Booking {
	return Booking{ReservationID: id, EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms}
}

// TxPolicy is how a transaction that wraps a booking (an idempotency key's)
// must run for the strategy's guarantees to hold.
type TxPolicy struct {
	Options  pgx.TxOptions
	Attempts int // reruns on serialization failures, as Strategy.Attempts
}

// ReadCommittedPolicy suits every booking whose safety is in its SQL.
var ReadCommittedPolicy = TxPolicy{Options: pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, Attempts: 1}

// TxPolicy is the policy for a transaction that runs this strategy: its
// isolation level, or READ COMMITTED when it asks for none.
func (s Strategy) TxPolicy() TxPolicy {
	policy := ReadCommittedPolicy
	if s.Tx != nil {
		policy.Options = *s.Tx
	}
	policy.Attempts = max(s.Attempts, 1)
	return policy
}
