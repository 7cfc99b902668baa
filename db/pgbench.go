package db

import "strings"

// AtomicBookPgbenchScript is queries/atomic.sql's AtomicBook as a custom
// pgbench script. It is built from the very text sqlc compiled into this
// package, so pgbench and Evento run the same statement and cannot drift
// apart. pgbench must define the variables name, event_id and hotel_id
// (-D); each transaction books one room.
func AtomicBookPgbenchScript() string {
	bind := strings.NewReplacer("$1", ":name", "$2", ":rooms", "$3", ":event_id", "$4", ":hotel_id")
	return "\\set rooms 1\n" + strings.TrimSpace(bind.Replace(atomicBook)) + ";\n"
}
