package faultproxy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/lab/faultproxy"
)

// The lock a transaction of the tests holds until it ends: whoever takes
// it next has waited for that transaction's COMMIT or ROLLBACK, so reading
// what it committed needs no sleep.
const lockKey = int64(42)

// The exec modes that send a pgx.Batch through the extended protocol:
// statements prepared by name and then only bound, and the unnamed
// statement parsed again for every query.
var batchModes = []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec}

// probe is a fresh database with an empty table, reached directly, and a
// fault proxy in front of it.
type probe struct {
	direct *pgx.Conn
	proxy  *faultproxy.Proxy
	url    string // through the proxy
}

func newProbe(t *testing.T) *probe {
	t.Helper()
	ctx := context.Background()
	dbURL := dbtest.NewURL(t)
	direct, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Close(context.Background()) })
	if _, err := direct.Exec(ctx, `CREATE TABLE probe (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	proxy, proxied, err := faultproxy.StartFor(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	return &probe{direct: direct, proxy: proxy, url: proxied}
}

// connect opens a connection through the proxy that sends batches in mode.
func (p *probe) connect(t *testing.T, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	config, err := pgx.ParseConfig(p.url)
	if err != nil {
		t.Fatal(err)
	}
	config.DefaultQueryExecMode = mode
	conn, err := pgx.ConnectConfig(context.Background(), config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// committed waits for every transaction holding lockKey to end, then
// reports whether row id is committed.
func (p *probe) committed(t *testing.T, id int) bool {
	t.Helper()
	// Only a bug waits this long: the cut session never ended.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.direct.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey); err != nil {
		t.Fatalf("waiting for the cut transaction to end: %v", err)
	}
	defer func() { _, _ = p.direct.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey) }()
	var found bool
	if err := p.direct.QueryRow(ctx, `SELECT EXISTS (SELECT FROM probe WHERE id = $1)`, id).Scan(&found); err != nil {
		t.Fatal(err)
	}
	return found
}

// begin is a batch that opens a block with pgx's Batch.BeginTx and takes
// lockKey in it, in one round trip.
func begin() *pgx.Batch {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, lockKey)
	return b
}

// commit is a batch that writes row id and commits, in one round trip.
func commit(id int) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO probe VALUES ($1)`, id)
	b.Queue(`commit`)
	return b
}

// A block begun and committed by batches, BEGIN and COMMIT pipelined with
// the statements around them: Commits lets the batch that begins through
// (a Sync inside a block commits nothing), and loses the reply to the
// batch that commits. PostgreSQL commits all the same. The first round
// prepares every statement; the second, armed, only binds them (or parses
// the unnamed statement again).
func TestCommitsLosesTheReplyToABatchThatCommits(t *testing.T) {
	t.Parallel()
	for _, mode := range batchModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			p := newProbe(t)
			conn := p.connect(t, mode)
			if err := conn.SendBatch(ctx, begin()).Close(); err != nil {
				t.Fatalf("warm-up begin: %v", err)
			}
			if err := conn.SendBatch(ctx, commit(1)).Close(); err != nil {
				t.Fatalf("warm-up commit: %v", err)
			}

			p.proxy.LoseReplyTo(faultproxy.Commits())
			if err := conn.SendBatch(ctx, begin()).Close(); err != nil {
				t.Fatalf("the batch that begins lost its reply: %v", err)
			}
			if conn.PgConn().TxStatus() != 'T' {
				t.Fatalf("after the batch that begins: transaction status %c, want T", conn.PgConn().TxStatus())
			}
			err := conn.SendBatch(ctx, commit(2)).Close()
			if p.proxy.Dropped() != 1 {
				t.Fatalf("the proxy lost no reply to the batch that commits (%v)", err)
			}
			if err == nil {
				t.Fatal("the batch that commits was answered")
			}
			if !p.committed(t, 2) {
				t.Fatal("the batch whose reply was lost did not commit")
			}
		})
	}
}

// A batch that begins, writes and commits, whose write fails: PostgreSQL
// skips the rest of the batch, COMMIT included, up to its Sync, which
// leaves the block open and failed until a ROLLBACK. The proxy sees only
// what the client sends, so it takes the block for ended at the skipped
// COMMIT, as it takes a simple-protocol COMMIT that rolls a failed block
// back: armed with Commits, it cuts the connection at that batch's Sync,
// although the batch committed nothing. The write's error may reach the
// client first: PostgreSQL sends an error at once, while the proxy is
// still forwarding the rest of the pipeline.
// Unarmed, the write's error reaches the client, and the ROLLBACK that
// follows (a simple query, never lost) puts the proxy back in step: the
// next autocommit statement's reply is the one lost.
func TestCommitsAfterABatchWhoseWriteFailed(t *testing.T) {
	t.Parallel()
	failing := func() *pgx.Batch {
		b := &pgx.Batch{}
		b.BeginTx(pgx.TxOptions{})
		b.Queue(`INSERT INTO probe VALUES ($1)`, 1) // already there
		b.Queue(`commit`)
		return b
	}
	for _, mode := range batchModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			p := newProbe(t)
			if _, err := p.direct.Exec(ctx, `INSERT INTO probe VALUES (1)`); err != nil {
				t.Fatal(err)
			}

			armed := p.connect(t, mode)
			p.proxy.LoseReplyTo(faultproxy.Commits())
			err := armed.SendBatch(ctx, failing()).Close()
			if p.proxy.Dropped() != 1 {
				t.Fatalf("armed: the proxy lost no reply to the failing batch (%v)", err)
			}
			if err == nil {
				t.Fatal("armed: the failing batch succeeded")
			}
			if err := armed.Ping(ctx); err == nil {
				t.Fatal("armed: the connection survived the lost reply")
			}

			conn := p.connect(t, mode)
			br := conn.SendBatch(ctx, failing())
			tx := br.Tx()
			var pgErr *pgconn.PgError
			if err := br.Close(); !errors.As(err, &pgErr) || pgErr.Code != "23505" {
				t.Fatalf("unarmed: the failing batch: %v, want the write's unique_violation", err)
			}
			if conn.PgConn().TxStatus() != 'E' {
				t.Fatalf("after the failing batch: transaction status %c, want E (failed block)", conn.PgConn().TxStatus())
			}
			p.proxy.LoseReplyTo(faultproxy.Commits())
			if err := tx.Rollback(ctx); err != nil {
				t.Fatalf("the ROLLBACK lost its reply: %v", err)
			}
			if _, err := conn.Exec(ctx, `INSERT INTO probe VALUES ($1)`, 2); err == nil || p.proxy.Dropped() != 2 {
				t.Fatalf("the next autocommit statement's reply was not lost (%v)", err)
			}
		})
	}
}
