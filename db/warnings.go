package db

import (
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// warningKey is where a connection keeps the last WARNING PostgreSQL sent
// it (pgconn's per-connection CustomData).
const warningKey = "evento.warning"

// keepWarnings is every pool's notice handler. A COMMIT, or an autocommit
// statement, whose wait for a synchronous standby was cancelled by
// someone else (pg_cancel_backend, an operator's or a tool's) succeeds:
// PostgreSQL has committed locally and says so only in a WARNING (SQLSTATE
// 01000, syncrep.c), without an error. The standby may lack that commit,
// so the write must not be answered as done. The handler runs on the
// goroutine that is reading the statement's reply, so withConn sees it
// once the statement returns.
func keepWarnings(c *pgconn.PgConn, n *pgconn.Notice) {
	if severity(n) == "WARNING" {
		c.CustomData()[warningKey] = n
	}
}

// severity is the notice's severity in English, whatever lc_messages says.
func severity(n *pgconn.Notice) string {
	if n.SeverityUnlocalized != "" {
		return n.SeverityUnlocalized
	}
	return n.Severity
}

// takeWarning returns the WARNING kept on c since the last call, if any,
// and forgets it.
func takeWarning(c *pgconn.PgConn) *pgconn.Notice {
	n, _ := c.CustomData()[warningKey].(*pgconn.Notice)
	delete(c.CustomData(), warningKey)
	return n
}

// warnedWriteError is a write that PostgreSQL reported done with a
// WARNING: what it committed may not be where the server promised it
// (the synchronous standby), so its outcome is unknown (504), and a resend
// with the same key is answered only once the standby has it.
type warnedWriteError struct{ notice *pgconn.Notice }

func (e *warnedWriteError) Error() string {
	return fmt.Sprintf("the write returned with a warning (SQLSTATE %s: %s; %s): it may not be on the synchronous standby", e.notice.Code, e.notice.Message, e.notice.Detail)
}
