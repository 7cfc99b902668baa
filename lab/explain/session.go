package explain

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
)

// sessionSetup is run on every session's connection before its first step,
// by Evento and by the spec alike (isolationtester prints nothing for it):
// timestamps then print the same way whatever the server's defaults are.
const sessionSetup = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY';"

// conn is one session's connection. It sends one statement at a time in
// the simple query protocol, as isolationtester (libpq's PQsendQuery)
// does, so results arrive as the same text isolationtester prints.
type conn struct {
	pg   *pgconn.PgConn
	done chan reply // the reply of the statement in flight
}

// reply is what a statement answered.
type reply struct {
	columns []string
	rows    [][]*string // nil is NULL
	tag     string
	err     error
	// fields and raw are the same answer for pgx to decode (text format),
	// for the subject's code.
	fields []pgconn.FieldDescription
	raw    [][][]byte
}

func dial(ctx context.Context, url string) (*conn, error) {
	pg, err := pgconn.Connect(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("connect a session: %w", err)
	}
	// isolationtester sets this too: a NOTICE is no part of the outcome.
	if _, err := pg.Exec(ctx, "SET client_min_messages = warning; "+sessionSetup).ReadAll(); err != nil {
		pg.Close(context.Background())
		return nil, fmt.Errorf("set up a session: %w", err)
	}
	return &conn{pg: pg, done: make(chan reply, 1)}, nil
}

// send starts sql; its reply arrives on c.done.
func (c *conn) send(ctx context.Context, sql string) {
	go func() { c.done <- c.exec(ctx, sql) }()
}

// exec runs sql and keeps its last result, as libpq's PQexec does. It
// reads the results itself: pgconn's Result.FieldDescriptions is left
// empty for a result without rows, and isolationtester prints the header
// of an empty result too.
func (c *conn) exec(ctx context.Context, sql string) reply {
	mrr := c.pg.Exec(ctx, sql)
	var r reply
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		r = reply{fields: slices.Clone(rr.FieldDescriptions())}
		for _, f := range r.fields {
			r.columns = append(r.columns, f.Name)
		}
		for rr.NextRow() {
			values := make([]*string, len(rr.Values()))
			raw := make([][]byte, len(rr.Values()))
			for i, v := range rr.Values() {
				if v != nil { // pgconn reuses v's bytes for the next row
					s := string(v)
					values[i], raw[i] = &s, []byte(s)
				}
			}
			r.rows = append(r.rows, values)
			r.raw = append(r.raw, raw)
		}
		tag, err := rr.Close()
		r.tag, r.err = tag.String(), err
	}
	if err := mrr.Close(); err != nil && r.err == nil {
		r.err = err
	}
	return r
}

// pgError is err's server error, if it is one.
func pgError(err error) *pgconn.PgError {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr
	}
	return nil
}
