package lab

import (
	"testing"

	"github.com/evento-lab/evento/db"
)

// TestServerPoolKeepsQueriesOutOfPgBouncersQueue: behind PgBouncer the
// servers' pools add up to about twice its pool, so that queries wait in
// the servers; a pool given is kept.
func TestServerPoolKeepsQueriesOutOfPgBouncersQueue(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want int
	}{
		{Config{Servers: 2}, db.DefaultServerPool},
		{Config{Servers: 8, Pool: 7, PgBouncer: true, PgBouncerPool: 5}, 7},
		{Config{Servers: 8, PgBouncer: true, PgBouncerPool: 5}, 2},
		{Config{Servers: 2, PgBouncer: true}, 20},
		{Config{Servers: 64, PgBouncer: true, PgBouncerPool: 5}, 1},
	} {
		if got := ServerPool(c.cfg); got != c.want {
			t.Errorf("ServerPool(%+v) = %d, want %d", c.cfg, got, c.want)
		}
	}
}
