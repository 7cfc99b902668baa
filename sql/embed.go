// Package sql holds Evento's schema as goose migrations. The files are the
// single source of truth for three readers: goose (make migrate and the
// automatic migration at start-up, through this embedded copy), sqlc (which
// reads them to type the queries in ../queries) and people reviewing a diff.
package sql

import "embed"

// Migrations is the migration directory, embedded so that the binary can
// migrate a database without the source tree beside it.
//
//go:embed *.sql
var Migrations embed.FS
