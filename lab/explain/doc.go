// Package explain replays each anomaly step by step, as PostgreSQL's
// isolation tester does: two sessions on a tiny hotel, each running a
// strategy's real Go code from the registry, every statement it sends
// (sqlc's SQL, parameters written in as literals) one step of a fixed
// interleaving. A session that waits for a lock is seen waiting in
// pg_stat_activity and pg_locks, never guessed from a sleep; the next
// planned step of another session runs meanwhile, exactly as
// isolationtester proceeds.
//
// Every run ends in a timeline (step, session, SQL, rows, BLOCKED, errors
// with their SQLSTATE), the final state with its verdict, and a cell of
// the strategy × scenario table that says how the anomaly was (or was not)
// prevented. The cell is computed from what the run saw, never from the
// strategy's name. Each run can also be written as an isolation-tester
// spec and its expected output (spec.go), so that pg_isolation_regress can
// check Evento's account of PostgreSQL against PostgreSQL itself.
//
// These are probes on one server at one isolation level, not proofs.
package explain
