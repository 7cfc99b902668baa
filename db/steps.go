package db

import "github.com/evento-lab/evento/db/internal/dbsqlc"

// StepStatements hands a strategy's Book the executors a caller chose for
// its reads and for its writes. It is how `evento explain` runs a
// strategy's real Go code one statement at a time, each statement sent
// when its schedule says so, without naming the generated package (which
// stays private to db): read and write need only have Exec, Query and
// QueryRow.
func StepStatements(read, write dbsqlc.DBTX) Statements {
	return Statements{Q: dbsqlc.New(), Read: read, Write: write}
}
