package db

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Strategy is one concurrency-control discipline for booking rooms. Its SQL
// lives in queries/<Name>.sql and one short Go function sequences those
// statements. Adding a strategy means that SQL file, that function, one
// entry in Strategies, and `make generate`: the Store, the API, the lab and
// the tests find it in the registry.
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
	// Tx, when set, runs the booking inside one transaction with these
	// options; nil runs each statement as its own transaction (unless an
	// idempotency key needs one, which is then READ COMMITTED).
	Tx *pgx.TxOptions
	// Attempts, when above 1, reruns the whole transaction on serialization
	// failures and deadlocks, up to this many times in all.
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
	// batch of one.
	BookBatch func(ctx context.Context, st Statements, reqs []evento.BookRequest) ([]evento.Outcome[evento.Booking], error)
	// BookKeyed, optional beside Book, is the write path's one
	// specialisation (see write.go): for a request with an idempotency
	// key, ONE autocommit statement that claims the key, books and stores
	// the booking as the key's outcome, so that the hotel's row is locked
	// for that statement only. It must take the key's advisory lock
	// without waiting before it locks anything else, and commit nothing
	// unless it booked and stored. done is false when it committed
	// nothing; the request then takes the general path.
	BookKeyed func(ctx context.Context, st Statements, req evento.BookRequest, key evento.IdempotencyKey) (booking evento.Booking, done bool, err error)
	// Buckets says the strategy books a sharded hotel's bucket rows
	// (room_buckets). A lab seeds its events split into buckets for it;
	// every other strategy refuses a hotel whose free rooms are all in
	// buckets with evento.ErrInventorySharded.
	Buckets bool
}

// Statements is what a strategy's SQL runs on. sqlc's queries take their
// executor as an argument: a strategy sends the statements that read to
// Read and the statements that write the booking to Write. That is its
// declaration of which statements are writes, and what --race-window
// delays and the step-by-step tests pause before.
type Statements struct {
	Q     *dbsqlc.Queries
	Read  dbsqlc.DBTX
	Write dbsqlc.DBTX
}

// statementsOn runs every statement on tx, the writes after beforeWrite.
func statementsOn(tx dbsqlc.DBTX, beforeWrite func(context.Context)) Statements {
	st := Statements{Q: dbsqlc.New(), Read: tx, Write: tx}
	if beforeWrite != nil {
		st.Write = hookedTx{DBTX: tx, before: beforeWrite}
	}
	return st
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
		Name:      "atomic",
		Summary:   "one conditional UPDATE ... WHERE reserved + locked + n <= assigned",
		Safe:      true,
		Book:      bookAtomic,
		BookKeyed: bookAtomicKeyed,
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
		Name:      "sharded",
		Summary:   "the hotel's rooms split over K bucket rows: book one with room that is not locked (SKIP LOCKED), else wait for one, else lock them all",
		Safe:      true,
		Attempts:  3,
		Book:      bookSharded,
		BookKeyed: bookShardedKeyed,
		Buckets:   true,
	},
	{
		Name:      "batched",
		Summary:   "group commit: concurrent requests for a hotel booked in one statement, answered in arrival order",
		Safe:      true,
		BookBatch: bookBatch,
	},
}

// LookupStrategy finds a strategy by name.
func LookupStrategy(name string) (Strategy, bool) {
	return lookup(Strategies, name)
}

func lookup(strategies []Strategy, name string) (Strategy, bool) {
	i := slices.IndexFunc(strategies, func(s Strategy) bool { return s.Name == name })
	if i < 0 {
		return Strategy{}, false
	}
	return strategies[i], true
}

// StrategyNames lists the strategies' names, comma-separated, for messages.
func StrategyNames() string {
	return strings.Join(names(Strategies), ", ")
}

func names(strategies []Strategy) []string {
	out := make([]string, len(strategies))
	for i, s := range strategies {
		out[i] = s.Name
	}
	return out
}

// txPolicy is how a write's transaction runs.
type txPolicy struct {
	// tx is nil when the statements may each run on their own (then a
	// transaction is opened only for an idempotency key, READ COMMITTED).
	tx       *pgx.TxOptions
	attempts int    // runs in all, on serialization failures
	label    string // names the reruns in the metrics
}

// policy is the transaction a booking with this strategy runs in.
func (s Strategy) policy() txPolicy {
	return txPolicy{tx: s.Tx, attempts: max(s.Attempts, 1), label: s.Name}
}

// readCommittedPolicy suits every write whose safety is in its SQL (holds).
var readCommittedPolicy = txPolicy{attempts: 1}
