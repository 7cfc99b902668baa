package report

import "fmt"

// The database kinds of a report (Report.DatabaseKind, Machine.DatabaseKind).
const (
	// SingleServer is one PostgreSQL: the lab's throwaway one, or the one
	// DATABASE_URL names (the lab does not look for its standbys).
	SingleServer = "single server"
	// ReplicatedPair is the primary and standby under Patroni that
	// evento run --ha starts, in one of its durability modes.
	ReplicatedPair = "replicated pair"
)

// databaseLine says what the database was, for a header; "" for a single
// server, the default, which needs no line.
func databaseLine(kind, durability string) string {
	if kind != ReplicatedPair {
		return ""
	}
	return fmt.Sprintf("replicated PostgreSQL pair, %s durability", durability)
}
