package report

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The widest table bench prints still fits 100 columns: the longest
// label, five-digit rates and CPU, ten rounds of a minute; pgbench has no
// servers ("-") and a measurement whose CPU could not be read shows "?".
func TestBenchTableFits100Columns(t *testing.T) {
	t.Parallel()
	wide := BenchCPU{Bookings: 1, Load: 99999, Servers: 99999, PostgreSQL: 99999, Total: 99999, Machine: 99999, Cores: 64, Ceiling: 99999}
	pgbench := wide
	pgbench.Servers = 0
	b := Bench{Rounds: 10, Duration: time.Minute, Servers: 16, Strategies: []string{"sharded/16+keys", "sharded/16"},
		Rows: []BenchRow{{
			Clients: 10000, Pgbench: 99999, PgbenchKeyed: 99999,
			Evento: map[string]float64{"sharded/16+keys": 99999, "sharded/16": 99999},
			Ratios: map[string]float64{"sharded/16+keys": 99.99, "sharded/16": 99.99},
			CPU:    map[string]BenchCPU{Pgbench: pgbench, PgbenchKeyed: pgbench, "sharded/16+keys": wide},
		}}}
	var out strings.Builder
	if err := b.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for line := range strings.Lines(text) {
		if n := utf8.RuneCountInString(strings.TrimSuffix(line, "\n")); n > 100 {
			t.Errorf("a line of %d columns: %q", n, line)
		}
	}
	lines := map[string][]string{}
	for line := range strings.Lines(text) {
		if f := strings.Fields(line); len(f) == 10 {
			lines[f[1]] = f
		}
	}
	if servers := lines[Pgbench][5]; servers != "-" {
		t.Errorf("pgbench's servers: %q, want -", servers)
	}
	if unread := strings.Join(lines["sharded/16"][4:], " "); unread != "? ? ? ? ? ?" {
		t.Errorf("sharded/16, whose CPU was not read: %q, want ? in every CPU column", unread)
	}
	if want := "10000 clients, sharded/16: 1.00x the rate\n"; !strings.Contains(text, want) {
		t.Errorf("the table lacks %q:\n%s", want, text)
	}
}
