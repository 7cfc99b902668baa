package explain

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/evento-lab/evento"
)

// stepper is what a subject's Go code sends its statements through (the
// Read or the Write of its db.Statements). It runs nothing itself: it
// asks the driver, which runs each statement as one step when the
// schedule says so, on the session's connection, and hands the answer
// back, decoded as pgx would. The code cannot tell it from a transaction.
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
	stmt   Stmt
	write  bool
	answer chan reply

	returned bool
	booking  evento.Booking
	err      error
}

func (s *stepper) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	r, err := s.send(ctx, sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	return pgconn.NewCommandTag(r.tag), nil
}

func (s *stepper) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	r, err := s.send(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	return &rows{reply: r, types: s.types, at: -1}, nil
}

func (s *stepper) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	r, err := s.send(ctx, sql, args)
	return row{reply: r, types: s.types, err: err}
}

// send writes out a statement as sqlc built it and runs it.
func (s *stepper) send(ctx context.Context, sql string, args []any) (reply, error) {
	stmt, err := sent(sql, args)
	if err != nil {
		return reply{}, err
	}
	return s.run(ctx, stmt)
}

// run asks the driver to run stmt and waits for its answer; a statement's
// error is returned as pgx returns it.
func (s *stepper) run(ctx context.Context, stmt Stmt) (reply, error) {
	answer := make(chan reply, 1)
	select {
	case s.asks <- ask{stmt: stmt, write: s.write, answer: answer}:
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
	select {
	case r := <-answer:
		r.types = s.types
		return r, r.err
	case <-ctx.Done():
		return reply{}, ctx.Err()
	}
}

// scanOne scans the only row of r, as QueryRow does.
func (r reply) scanOne(dest ...any) error {
	return row{reply: r, types: r.types}.Scan(dest...)
}

// row is a reply as pgx.Row.
type row struct {
	reply
	types *pgtype.Map
	err   error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if len(r.raw) == 0 {
		return pgx.ErrNoRows
	}
	return pgx.ScanRow(r.types, r.fields, r.raw[0], dest...)
}

// rows is a reply as pgx.Rows, for sqlc's :many queries.
type rows struct {
	reply
	types *pgtype.Map
	at    int
	err   error
}

func (r *rows) Close()                                       {}
func (r *rows) Err() error                                   { return r.err }
func (r *rows) CommandTag() pgconn.CommandTag                { return pgconn.NewCommandTag(r.tag) }
func (r *rows) FieldDescriptions() []pgconn.FieldDescription { return r.fields }
func (r *rows) RawValues() [][]byte                          { return r.raw[r.at] }
func (r *rows) Conn() *pgx.Conn                              { return nil }
func (r *rows) TypeMap() *pgtype.Map                         { return r.types }

func (r *rows) Next() bool {
	r.at++
	return r.err == nil && r.at < len(r.raw)
}

func (r *rows) Scan(dest ...any) error {
	if err := pgx.ScanRow(r.types, r.fields, r.raw[r.at], dest...); err != nil {
		r.err = fmt.Errorf("scan row %d: %w", r.at, err)
		return r.err
	}
	return nil
}

func (r *rows) Values() ([]any, error) {
	return nil, errors.New("explain's rows decode only through Scan")
}
