// Package queries holds every statement Evento runs, one file per strategy
// or concern. sqlc compiles them into db/internal/dbsqlc; the files are
// also embedded so that the lab can hand a statement to another tool
// (pgbench) exactly as it is written here, named parameters and all.
package queries

import "embed"

// Files are the query files.
//
//go:embed *.sql
var Files embed.FS
