package db

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Strategy is one concurrency-control discipline for booking rooms, and
// everything about it: its SQL is queries/<Name>.sql, and its Go file
// (db/<Name>.go) declares this value. One line in Strategies (registry.go)
// serves it; the API, the lab, explain and the docs' checks find it there.
type Strategy struct {
	Name string
	// ChooseWhen says in which situation to choose the strategy, and Price
	// what choosing it costs or rules out: the README's "Which strategy
	// should I use?" and compare's recommendation say both in these words.
	ChooseWhen string
	Price      string
	// Safe is false for strategies that can overbook under concurrency.
	// Reports never trust it (they judge a run from the database alone);
	// the tests use it, and a write of a safe strategy that hits the
	// capacity CHECK is a bug reported as such (see caughtBySafetyNet).
	Safe bool
	// Tx, when set, runs the booking inside one transaction with these
	// options; nil runs each statement as its own transaction (unless an
	// idempotency key needs one, which is then READ COMMITTED).
	Tx *pgx.TxOptions
	// Attempts, when above 1, reruns the whole transaction when it lost to
	// a concurrent one and wrote nothing (a serialization failure, a
	// deadlock, evento.ErrConflict), up to this many times in all.
	Attempts int
	// Book makes one reservation. It returns a final refusal (a
	// *evento.ShortfallError, evento.ErrNotFound) or another error
	// (evento.ErrConflict, a database error) when it books nothing.
	// Exactly one of Book and BookBatch is set.
	Book func(ctx context.Context, st Statements, req evento.BookRequest) (evento.Booking, error)
	// BookBatch books requests for one hotel together and answers each, in
	// order. A strategy with BookBatch is served through a Batcher (group
	// commit): the requests for a hotel that reach a server while its
	// previous batch commits form the next batch; a lone request is a
	// batch of one. keys are the requests' idempotency keys (nil: none),
	// which it writes on their reservations (queries/idempotency.sql);
	// Book's reservation gets its request's key from the transaction.
	BookBatch func(ctx context.Context, st Statements, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) ([]evento.Outcome[evento.Booking], error)
	// BookKeyed, optional beside Book, is the write engine's one
	// specialisation (see reserve.go): for a request with an idempotency
	// key, ONE autocommit statement that claims the key, books and records
	// the reservation under the key, so that the hotel's row is locked for
	// that statement only (after, at most, autocommit reads that lock
	// nothing, as optimistic's). It must take the key's advisory lock
	// without waiting before it locks anything else, and commit nothing
	// unless it booked and recorded. done is false when it committed nothing; the
	// request then takes the general path.
	BookKeyed func(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey) (booking evento.Booking, done bool, err error)
	// BookBatchKeyed, optional beside BookBatch, is BookKeyed for a batch
	// with idempotency keys (see batcher.go): ONE autocommit statement that
	// claims every key, books every request and records each booking under
	// its key, or commits nothing (done false), and the batch then takes
	// the general path. The same rules as BookKeyed's, and one more: it
	// commits only if it booked every request, since a refusal is the
	// general path's to answer.
	BookBatchKeyed func(ctx context.Context, st Statements, reqs []evento.BookRequest, keys []*evento.IdempotencyKey) (bookings []evento.Booking, done bool, err error)
	// RemembersRows gives the strategy, in every Store, a table of the
	// hotel rows as its swaps left them (versions.go), in Statements: a
	// booking may swap from one instead of reading the row first.
	RemembersRows bool
	versions      *rowVersions // that table, given by NewStore
	// Buckets says the strategy books a sharded hotel's bucket rows
	// (room_buckets) instead of the hotel's row: see SplitsHotels and
	// TakesHolds.
	Buckets bool
}

// SplitsHotels says how many bucket rows a hotel booked by this strategy
// is seeded with, when a lab asks for k: k for a strategy that books
// buckets, 0 (the hotel's one row) for every other.
func (s Strategy) SplitsHotels(k int) int {
	if !s.Buckets {
		return 0
	}
	return k
}

// TakesHolds says whether holds can be placed on the hotels this strategy
// books: a hold takes rooms from the hotel's row, which a hotel split into
// buckets has handed over to them (evento.ErrInventorySharded).
func (s Strategy) TakesHolds() bool { return !s.Buckets }

// policy is the transaction a booking with this strategy runs in.
func (s Strategy) policy() txPolicy {
	return txPolicy{tx: s.Tx, attempts: max(s.Attempts, 1), label: s.Name}
}

// txPolicy is how a write's transaction runs.
type txPolicy struct {
	// tx is nil when the statements may each run on their own (then a
	// transaction is opened only for an idempotency key, READ COMMITTED).
	tx       *pgx.TxOptions
	attempts int    // runs in all, on conflicts (isConflict)
	label    string // names the reruns in the metrics
}

var readCommitted = &pgx.TxOptions{IsoLevel: pgx.ReadCommitted}

// readCommittedPolicy suits every write whose safety is in its SQL (holds).
var readCommittedPolicy = txPolicy{attempts: 1}

// Statements is what a strategy's SQL runs on. sqlc's queries take their
// executor as an argument: a strategy sends the statements that read to
// Read and the statements that write the booking to Write. That is its
// declaration of which statements are writes, and what --race-window
// delays and the step-by-step tests pause before.
//
// Last is where a strategy may send a write after which it sends nothing,
// whatever that write answers: the engine then sends it in one round trip
// with the transaction's COMMIT, so that a lock taken before it is held a
// round trip less (pipeline.go). It is a write like the others (nil:
// Write).
type Statements struct {
	Q     *dbsqlc.Queries
	Read  dbsqlc.DBTX
	Write dbsqlc.DBTX
	Last  dbsqlc.DBTX
	// versions is what the server remembers of the rows its swaps wrote,
	// for a strategy that RemembersRows (versions.go), outside any
	// transaction; nil: nothing, and every booking reads.
	versions *rowVersions
}

// last is where the strategy's last write goes.
func (st Statements) last() dbsqlc.DBTX {
	if st.Last != nil {
		return st.Last
	}
	return st.Write
}

// statementsOn runs every statement on tx, the writes after beforeWrite.
func statementsOn(tx dbsqlc.DBTX, beforeWrite func(context.Context)) Statements {
	st := Statements{Q: dbsqlc.New(), Read: tx, Write: tx, Last: lastOf(tx)}
	if beforeWrite != nil {
		st.Write = hookedTx{DBTX: tx, before: beforeWrite}
		st.Last = hookedTx{DBTX: st.Last, before: beforeWrite}
	}
	return st
}

// statements is where the strategy's SQL runs on tx (statementsOn), with
// the Store's row versions when it RemembersRows and tx is no
// transaction: a swap's version is the row's only once committed, and one
// a rollback undid may be stamped again, over other counters.
func (s Strategy) statements(tx dbsqlc.DBTX, beforeWrite func(context.Context)) Statements {
	st := statementsOn(tx, beforeWrite)
	if !inTransaction(tx) {
		st.versions = s.versions
	}
	return st
}

// newBooking is the booking a strategy made: reservation id, as asked.
func newBooking(id int64, req evento.BookRequest) evento.Booking {
	return evento.Booking{ReservationID: id, EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms}
}

// hookedTx calls before ahead of every statement sent through it: a
// strategy's Statements.Write, when writes are to be delayed or paused, or
// a connection whose statements are counted (runStatements).
type hookedTx struct {
	dbsqlc.DBTX
	before func(context.Context)
}

func (h hookedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	h.before(ctx)
	return h.DBTX.Exec(ctx, sql, args...)
}

func (h hookedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	h.before(ctx)
	return h.DBTX.Query(ctx, sql, args...)
}

func (h hookedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	h.before(ctx)
	return h.DBTX.QueryRow(ctx, sql, args...)
}
