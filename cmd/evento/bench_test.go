package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/evento-lab/evento/lab/report"
)

// evento bench end to end, kept short: pgbench and pgbench+keys, a keyed
// strategy, and sharded at two bucket counts, each run once for a second.
// Every line has a rate and the CPU per booking of each part, every ratio
// is computed, the price of exactly-once is printed for pgbench and for
// the keyed strategy, and the table fits 100 columns.
func TestBenchMeasuresEveryColumn(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	out := t.TempDir()
	r := runEvento(t, bundle.env, "bench", "--clients", "4", "--rounds", "1", "--duration", "1s",
		"--strategies", "atomic,atomic+keys,sharded", "--buckets", "1,4", "--out", out)
	if r.exit != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.exit, r.stdout, r.stderr)
	}
	for _, want := range []string{"pgbench+keys", "sharded/1", "sharded/4", "atomic+keys", "ceiling",
		"price of exactly-once", "4 clients, pgbench: ", "4 clients, atomic: "} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	for line := range strings.Lines(r.stdout) {
		if n := utf8.RuneCountInString(strings.TrimSuffix(line, "\n")); n > 100 {
			t.Errorf("a line of %d columns, over 100: %q", n, line)
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
	strategies := []string{"atomic", "atomic+keys", "sharded/1", "sharded/4"}
	for _, s := range strategies {
		if row.Evento[s] <= 0 || row.Ratios[s] <= 0 {
			t.Errorf("%s: rate %g, ratio %g; want both positive", s, row.Evento[s], row.Ratios[s])
		}
	}
	if row.KeyedRatios["atomic"] <= 0 {
		t.Errorf("no keyed/unkeyed ratio for atomic: %v", row.KeyedRatios)
	}
	for _, s := range append([]string{report.Pgbench, report.PgbenchKeyed}, strategies...) {
		c, ok := row.CPU[s]
		pgbench := strings.HasPrefix(s, report.Pgbench)
		if !ok || c.Bookings <= 0 || c.Load <= 0 || c.PostgreSQL <= 0 || (c.Servers > 0) == pgbench ||
			c.Total != c.Load+c.Servers+c.PostgreSQL || c.Ceiling <= 0 || c.Machine <= 0 {
			t.Errorf("%s: CPU per booking %+v; want every part measured (servers for Evento only)", s, c)
		}
	}
}
