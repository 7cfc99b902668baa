package lab

import (
	"slices"
	"testing"
)

func TestParsePgbenchTPS(t *testing.T) {
	t.Parallel()
	out := `transaction type: /tmp/evento-atomic-1.pgbench
number of clients: 8
latency average = 2.371 ms
initial connection time = 11.508 ms
tps = 3371.418862 (without initial connection time)
`
	if tps, err := parsePgbenchTPS(out); err != nil || tps != 3371.418862 {
		t.Fatalf("parsePgbenchTPS = %g, %v; want 3371.418862", tps, err)
	}
	if _, err := parsePgbenchTPS("pgbench: error: connection refused"); err == nil {
		t.Fatal("no tps line accepted")
	}
}

// pgbench gets the password in PGPASSWORD, not on its command line.
func TestPgbenchURLLeavesThePasswordOffTheCommandLine(t *testing.T) {
	t.Parallel()
	raw := "postgres://ada:s3cret@127.0.0.1:5432/evento?sslmode=disable"
	if got, want := withoutPassword(raw), "postgres://ada@127.0.0.1:5432/evento?sslmode=disable"; got != want {
		t.Errorf("withoutPassword = %q, want %q", got, want)
	}
	if got := urlPassword(raw); got != "s3cret" {
		t.Errorf("urlPassword = %q", got)
	}
	if got := urlPassword("postgres://ada@127.0.0.1/evento"); got != "" {
		t.Errorf("urlPassword without one = %q", got)
	}
}

// Each round of evento bench starts one measurement further along.
func TestRotateStartsEachRoundFurtherAlong(t *testing.T) {
	t.Parallel()
	values := []string{"pgbench", "atomic", "sharded/16"}
	for by, want := range [][]string{
		{"pgbench", "atomic", "sharded/16"},
		{"atomic", "sharded/16", "pgbench"},
		{"sharded/16", "pgbench", "atomic"},
		{"pgbench", "atomic", "sharded/16"},
	} {
		if got := rotate(values, by); !slices.Equal(got, want) {
			t.Errorf("rotate by %d = %v, want %v", by, got, want)
		}
	}
	if values[0] != "pgbench" {
		t.Errorf("rotate changed its argument: %v", values)
	}
}
