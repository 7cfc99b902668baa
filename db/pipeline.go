package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// A write's transaction, in as few round trips as its statements allow.
// A booking that locks its hotel's row keeps it locked until COMMIT, so
// every round trip after the lock is paid by every booking queued behind
// it; and each round trip costs the server and its backend a write, a
// read and a wake-up. Two are saved, without changing a statement:
//   - BEGIN goes out in one round trip with the first statement (pgx's
//     Batch.BeginTx), whether it returns a row or rows (a key's claim):
//     BEGIN itself locks nothing, so this saves time, not a lock's hold.
//   - COMMIT goes out in one round trip with the last statement, when the
//     strategy sent it to Statements.Last and the engine knows that
//     nothing follows it (one request, without a key or with a booking's
//     key, which its reservation carries): the row lock is released as
//     soon as the write is done, not a round trip later. If the statement fails, PostgreSQL skips the COMMIT queued
//     behind it and the transaction is rolled back as before.

// inTransaction says whether the statements sent to ex run in one
// transaction: the engine's, or any pgx.Tx (explain's stepper is one).
func inTransaction(ex dbsqlc.DBTX) bool {
	switch ex.(type) {
	case *pipelinedTx, pgx.Tx:
		return true
	}
	return false
}

// pipelinedTx is one transaction on conn, opened by its first statement.
type pipelinedTx struct {
	conn    *pgx.Conn
	options pgx.TxOptions
	tx      pgx.Tx // nil until BEGIN went out
	// endsWithLast: the transaction's Last statement may carry its COMMIT.
	endsWithLast bool
	ended        txEnd
	commitErr    error // with ended == commitFailed
}

// txEnd is what became of a COMMIT sent with the last statement.
type txEnd int

const (
	open         txEnd = iota // no COMMIT sent yet, or the statement before it failed and it was skipped
	committed                 // PostgreSQL committed
	commitFailed              // COMMIT failed or its answer was lost: commitErr says which
)

// errStatementAfterCommit is a statement sent after the COMMIT that went
// out with a Last statement: a strategy that broke Statements.Last's
// promise. It is not sent.
var errStatementAfterCommit = errors.New("statement after the transaction's COMMIT went out with its last statement")

// lastOf is where a write's Last statement goes: the transaction itself,
// or, when it may end the transaction, an executor that sends COMMIT with
// it.
func lastOf(tx dbsqlc.DBTX) dbsqlc.DBTX {
	if p, ok := tx.(*pipelinedTx); ok && p.endsWithLast {
		return endingTx{p}
	}
	return tx
}

func (p *pipelinedTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return p.exec(ctx, sql, args, false)
}

// exec sends sql, with the transaction's COMMIT when commit.
func (p *pipelinedTx) exec(ctx context.Context, sql string, args []any, commit bool) (pgconn.CommandTag, error) {
	switch {
	case p.ended != open:
		return pgconn.CommandTag{}, errStatementAfterCommit
	case p.tx != nil && !commit:
		return p.tx.Exec(ctx, sql, args...)
	}
	br, err := p.send(ctx, sql, args, commit)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if commit {
		p.end(br, err)
		return tag, err
	}
	return tag, closeBatch(br, err)
}

func (p *pipelinedTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if p.ended != open {
		return nil, errStatementAfterCommit
	}
	if p.tx != nil {
		return p.tx.Query(ctx, sql, args...)
	}
	br, err := p.send(ctx, sql, args, false)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, closeBatch(br, err)
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// batchRows are a statement's rows read from a batch, which closing them
// closes too: the connection is busy until then.
type batchRows struct {
	pgx.Rows
	br       pgx.BatchResults
	closed   bool
	closeErr error
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if !r.closed {
		r.closed = true
		r.closeErr = r.br.Close()
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.closeErr
}

func (p *pipelinedTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return p.queryRow(ctx, sql, args, false)
}

// queryRow sends sql, with the transaction's COMMIT when commit.
func (p *pipelinedTx) queryRow(ctx context.Context, sql string, args []any, commit bool) pgx.Row {
	switch {
	case p.ended != open:
		return errRow{errStatementAfterCommit}
	case p.tx != nil && !commit:
		return p.tx.QueryRow(ctx, sql, args...)
	}
	br, err := p.send(ctx, sql, args, commit)
	if err != nil {
		return errRow{err}
	}
	row := batchRow{br: br}
	if commit {
		row.ending = p
	}
	return row
}

// send sends sql in one round trip after BEGIN, if it has not gone out
// yet, and before COMMIT, with commit. br's next result is sql's.
func (p *pipelinedTx) send(ctx context.Context, sql string, args []any, commit bool) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	beginning := p.tx == nil
	if beginning {
		b.BeginTx(p.options)
	}
	b.Queue(sql, args...)
	if commit {
		b.Queue("commit")
	}
	var br pgx.BatchResults
	if beginning {
		br = p.conn.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			err = fmt.Errorf("begin: %w", err)
			var pgErr *pgconn.PgError
			if commit && !errors.As(err, &pgErr) && p.conn.IsClosed() {
				// BEGIN's reply was lost with the rest: the batch may
				// have gone out, statement and COMMIT, and committed.
				p.ended, p.commitErr = commitFailed, err
				return nil, err
			}
			return nil, uncommitted(err)
		}
		p.tx = br.Tx()
	} else {
		br = p.tx.SendBatch(ctx, b)
	}
	return br, nil
}

// commit ends the transaction, unless its COMMIT went out already.
func (p *pipelinedTx) commit(ctx context.Context) error {
	switch {
	case p.ended == committed:
		return nil
	case p.ended == commitFailed:
		return p.commitErr
	case p.tx == nil:
		return nil // no statement: no transaction
	}
	return p.tx.Commit(ctx)
}

func (p *pipelinedTx) rollback(ctx context.Context) {
	if p.tx != nil && p.ended == open {
		// A failed rollback changes nothing: the transaction ends with
		// its session either way, uncommitted.
		_ = p.tx.Rollback(ctx)
	}
}

// endingTx sends each statement with the transaction's COMMIT. Its Query
// does not (rows are read after it returns): the COMMIT then goes out on
// its own, as for any other statement.
type endingTx struct{ p *pipelinedTx }

func (e endingTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return e.p.exec(ctx, sql, args, true)
}

func (e endingTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return e.p.Query(ctx, sql, args...)
}

func (e endingTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return e.p.queryRow(ctx, sql, args, true)
}

// end reads the answer to the COMMIT that followed the last statement,
// whose own answer, stmtErr, was read, and says what became of the
// transaction.
func (p *pipelinedTx) end(br pgx.BatchResults, stmtErr error) {
	_, err := br.Exec()
	err = closeBatch(br, err)
	var pgErr *pgconn.PgError
	switch status := p.conn.PgConn().TxStatus(); {
	case err == nil:
		p.ended = committed
	case errors.As(stmtErr, &pgErr):
		// PostgreSQL answered the statement itself with an error, even
		// one that ended the session (FATAL): it skipped, or never
		// reached, the COMMIT queued behind it. Nothing was committed,
		// whatever became of the connection since.
	case p.conn.IsClosed():
		// Whether the COMMIT ran is unknown.
		p.ended, p.commitErr = commitFailed, err
	case status == 'E' || status == 'T':
		// The statement failed, and PostgreSQL skipped the COMMIT queued
		// behind it: the transaction is still open, and rolled back.
	default:
		p.ended, p.commitErr = commitFailed, err
	}
}

// batchRow is a statement's row read from a batch, which Scan then closes
// (with ending's end, after reading the COMMIT's answer too).
type batchRow struct {
	br     pgx.BatchResults
	ending *pipelinedTx // set when the batch carries the COMMIT
}

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if r.ending != nil {
		r.ending.end(r.br, err)
		return err
	}
	return closeBatch(r.br, err)
}

// closeBatch closes br, whose statement answered err, and returns err, or
// else what closing says.
func closeBatch(br pgx.BatchResults, err error) error {
	if closeErr := br.Close(); err == nil {
		return closeErr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
