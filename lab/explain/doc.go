// Package explain replays each anomaly step by step, as PostgreSQL's
// isolation tester does: two sessions on a tiny hotel, each running a
// strategy's real Go code from the registry, every statement it sends one
// step of a fixed interleaving. A session that waits for a lock is seen
// waiting in pg_stat_activity and pg_locks, never guessed from a sleep,
// and the next planned step of another session runs meanwhile.
//
// A run ends in a timeline (step, session, SQL, rows, BLOCKED, errors with
// their SQLSTATE), the final state with its verdict, and a cell of the
// strategy × scenario table, computed from what the run saw, never from
// the strategy's name. Each run can also be written as an isolation-tester
// spec and its expected output (spec.go), so that pg_isolation_regress
// checks Evento's account of PostgreSQL against PostgreSQL itself.
//
// These are probes on one server at one isolation level, not proofs.
package explain
