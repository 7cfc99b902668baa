package explain

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// stepper is the Read or the Write of a subject's db.Statements. It runs
// nothing itself: the driver runs each statement as one step when the
// schedule says so, and the answer comes back decoded as pgx would.
//
// It is a pgx.Tx because the session is in one, and a strategy may ask
// (sharded takes a savepoint only inside a transaction); strategies call
// only Exec, Query and QueryRow, so the embedded Tx is left nil.
type stepper struct {
	pgx.Tx
	asks  chan<- ask
	write bool // Statements.Write: the statements that book
	types *pgtype.Map
}

// ask is a statement a subject's code wants to send (answer is where the
// driver replies), or, with returned set, the code's end.
type ask struct {
	stmt     Stmt
	write    bool
	answer   chan reply
	returned bool
	err      error
}

func (s *stepper) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r, err := s.send(ctx, sql, args)
	return pgconn.NewCommandTag(r.tag), err
}

func (s *stepper) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return s.send(ctx, sql, args)
}

func (s *stepper) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r, err := s.send(ctx, sql, args)
	return firstRow{r, err}
}

// send writes out a statement as sqlc built it and runs it.
func (s *stepper) send(ctx context.Context, sql string, args []any) (*rows, error) {
	stmt, err := sent(sql, args)
	if err != nil {
		return &rows{}, err
	}
	return s.run(ctx, stmt)
}

// run asks the driver to run stmt and waits for its answer.
func (s *stepper) run(ctx context.Context, stmt Stmt) (*rows, error) {
	answer := make(chan reply, 1)
	select {
	case s.asks <- ask{stmt: stmt, write: s.write, answer: answer}:
	case <-ctx.Done():
		return &rows{}, ctx.Err()
	}
	select {
	case r := <-answer:
		return &rows{reply: r, types: s.types, at: -1}, r.err
	case <-ctx.Done():
		return &rows{}, ctx.Err()
	}
}

// rows is a reply as pgx.Rows, for sqlc's :many queries; it decodes only
// through Scan, which is all sqlc calls (the embedded Rows is left nil).
type rows struct {
	pgx.Rows
	reply
	types *pgtype.Map
	at    int
}

func (r *rows) Close()                        {}
func (r *rows) Err() error                    { return nil }
func (r *rows) CommandTag() pgconn.CommandTag { return pgconn.NewCommandTag(r.tag) }
func (r *rows) Next() bool                    { r.at++; return r.at < len(r.rows) }

func (r *rows) Scan(dest ...any) error {
	raw := make([][]byte, len(r.rows[r.at]))
	for i, v := range r.rows[r.at] {
		if v != nil {
			raw[i] = []byte(*v)
		}
	}
	return pgx.ScanRow(r.types, r.fields, raw, dest...)
}

// firstRow is a reply as pgx.Row, for sqlc's :one queries.
type firstRow struct {
	rows *rows
	err  error
}

func (r firstRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		return pgx.ErrNoRows
	}
	return r.rows.Scan(dest...)
}
