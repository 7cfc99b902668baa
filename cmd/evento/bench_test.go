package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/report"
)

// evento bench end to end, kept short: pgbench and pgbench+keys, a keyed
// strategy, and sharded at two bucket counts, each run once for a second.
// Every column has a rate, every ratio is computed, and the price of
// exactly-once is printed for pgbench and for the keyed strategy.
func TestBenchMeasuresEveryColumn(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	out := t.TempDir()
	r := runEvento(t, bundle.env, "bench", "--clients", "4", "--rounds", "1", "--duration", "1s",
		"--strategies", "atomic,atomic+keys,sharded", "--buckets", "1,4", "--out", out)
	if r.exit != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.exit, r.stdout, r.stderr)
	}
	for _, want := range []string{"pgbench+keys", "sharded/1", "sharded/4", "atomic+keys",
		"price of exactly-once in PostgreSQL alone at 4 clients", "price of exactly-once at 4 clients: atomic with idempotency keys"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	raw := readFile(t, filepath.Join(out, "bench.json"))
	var rows []report.BenchRow
	if err := json.Unmarshal(raw, &rows); err != nil || len(rows) != 1 {
		t.Fatalf("bench.json: %v %s", err, raw)
	}
	row := rows[0]
	if row.Pgbench <= 0 || row.PgbenchKeyed <= 0 {
		t.Fatalf("pgbench %g, pgbench+keys %g: want both measured", row.Pgbench, row.PgbenchKeyed)
	}
	for _, s := range []string{"atomic", "atomic+keys", "sharded/1", "sharded/4"} {
		if row.Evento[s] <= 0 || row.Ratios[s] <= 0 {
			t.Errorf("%s: rate %g, ratio %g; want both positive", s, row.Evento[s], row.Ratios[s])
		}
	}
	if row.KeyedRatios["atomic"] <= 0 {
		t.Errorf("no keyed/unkeyed ratio for atomic: %v", row.KeyedRatios)
	}
}
