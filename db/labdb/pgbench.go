package labdb

import (
	"fmt"
	"regexp"

	"github.com/evento-lab/evento/queries"
)

// AtomicBookPgbenchScript is queries/atomic.sql's AtomicBook as a custom
// pgbench script. It is cut from the very file sqlc compiles, so pgbench
// and Evento run the same statement and cannot drift apart; its named
// parameters (@name, @rooms, ...) become pgbench variables of the same
// names, whatever order sqlc numbers them in. pgbench must define name,
// event_id and hotel_id (-D); each transaction books one room.
func AtomicBookPgbenchScript() (string, error) {
	statement, err := namedStatement("atomic.sql", "AtomicBook")
	if err != nil {
		return "", err
	}
	return "\\set rooms 1\n" + pgbenchVariables(statement) + ";\n", nil
}

// AtomicBookKeyedPgbenchScript is queries/atomic.sql's AtomicBookKeyed,
// the keyed fast path, as a custom pgbench script, cut like
// AtomicBookPgbenchScript: each transaction books one room under a new
// random idempotency key, recorded on its reservation, so
// that pgbench measures what exactly-once costs PostgreSQL itself, without
// Evento in front. pgbench must define name, event_id, hotel_id and
// fingerprint (-D); the keys are kept for a day, as the server keeps them.
func AtomicBookKeyedPgbenchScript() (string, error) {
	statement, err := namedStatement("atomic.sql", "AtomicBookKeyed")
	if err != nil {
		return "", err
	}
	return "\\set rooms 1\n\\set ttl_seconds 86400\n\\set key random(1, 9000000000000000000)\n" +
		pgbenchVariables(statement) + ";\n", nil
}

// pgbenchVariables turns a statement's parameters into pgbench's: each
// @name into :name, and each nullable one (sqlc.narg, the reservation's
// client) into NULL, the anonymous client, which pgbench cannot set.
func pgbenchVariables(statement string) string {
	return namedParameter.ReplaceAllString(nullableParameter.ReplaceAllString(statement, "NULL"), ":$1")
}

// nullableParameter is sqlc's nullable parameter syntax.
var nullableParameter = regexp.MustCompile(`sqlc\.narg\('[a-z_][a-z0-9_]*'\)`)

// namedParameter is sqlc's @name parameter syntax.
var namedParameter = regexp.MustCompile(`@([a-z_][a-z0-9_]*)`)

// namedStatement returns the statement under "-- name: <name>" in file,
// without its comments or the final semicolon.
func namedStatement(file, name string) (string, error) {
	text, ok := queries.Statement(file, name)
	if !ok {
		return "", fmt.Errorf("queries/%s has no statement named %s", file, name)
	}
	return text, nil
}
