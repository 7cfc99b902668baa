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

// reply is what a statement answered, in text format.
type reply struct {
	fields []pgconn.FieldDescription
	rows   [][]*string // nil is NULL
	tag    string
	err    error
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
		for rr.NextRow() {
			values := make([]*string, len(rr.Values()))
			for i, v := range rr.Values() {
				if v != nil { // pgconn reuses v's bytes for the next row
					s := string(v)
					values[i] = &s
				}
			}
			r.rows = append(r.rows, values)
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
