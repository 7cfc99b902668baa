// Package localpg gives Evento a PostgreSQL database with zero setup.
//
// Resolve picks the database: DATABASE_URL when set, otherwise a server on
// localhost:5432 if it lets us in, otherwise (nothing there, or it wants a
// password) a throwaway cluster started from the PostgreSQL server binaries
// installed on the machine (Start). Throwaway clusters listen
// on loopback only, let in only whoever holds their URL (a random
// password, asked on every login, over TCP and the socket alike; the
// socket in a directory only the server's OS user may enter), run as an
// unprivileged user when the caller is root, and
// are removed again by Server.Stop; the directory of one whose owner was
// killed (SIGKILL leaves no chance to Stop) is removed by the next Start,
// once both the owner and its postgres are gone. StartPgBouncer does the same for a
// PgBouncer in transaction pooling mode in front of a database (evento run
// --pgbouncer).
//
// The package installs no signal handlers: callers own the process lifecycle
// and must call Stop (or Resolved.Close) on every exit path, including
// SIGINT and SIGTERM.
package localpg
