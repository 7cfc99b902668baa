package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// BenchRow is one client count of evento bench: medians of reservations
// per second.
type BenchRow struct {
	Clients int     `json:"clients"`
	Pgbench float64 `json:"pgbench"`
	// PgbenchKeyed is pgbench running the keyed fast path's statement
	// (atomic.sql's AtomicBookKeyed), when a keyed strategy was measured.
	PgbenchKeyed float64            `json:"pgbench_keyed,omitempty"`
	Evento       map[string]float64 `json:"evento"`
	Ratios       map[string]float64 `json:"ratio_to_pgbench"`
	// KeyedRatios are, per strategy measured both ways, its keyed rate
	// ("atomic+keys") over its unkeyed one: the price of exactly-once.
	KeyedRatios map[string]float64   `json:"keyed_to_unkeyed,omitempty"`
	Samples     map[string][]float64 `json:"samples"`
}

// Bench is evento bench's outcome: pgbench against Evento's strategies on
// one hot row.
type Bench struct {
	Rounds     int
	Duration   time.Duration
	Servers    int
	Strategies []string
	Rows       []BenchRow
}

// WriteText writes the benchmark as one table.
func (b Bench) WriteText(w io.Writer) error {
	var out strings.Builder
	fmt.Fprintf(&out, "reservations/s on one hot row, median of %d interleaved %s runs; Evento: %d servers over HTTP, think 0\n\n",
		b.Rounds, b.Duration, b.Servers)
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	keyed := len(b.Rows) > 0 && b.Rows[0].PgbenchKeyed > 0
	header := "clients\tpgbench\t"
	if keyed {
		header += "pgbench+keys\t"
	}
	for _, s := range b.Strategies {
		header += s + "\tvs pgbench\t"
	}
	fmt.Fprintln(tw, header)
	for _, r := range b.Rows {
		line := fmt.Sprintf("%d\t%.0f\t", r.Clients, r.Pgbench)
		if keyed {
			line += fmt.Sprintf("%.0f\t", r.PgbenchKeyed)
		}
		for _, s := range b.Strategies {
			line += fmt.Sprintf("%.0f\t%.2fx\t", r.Evento[s], r.Ratios[s])
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for _, r := range b.Rows {
		if r.PgbenchKeyed > 0 && r.Pgbench > 0 {
			fmt.Fprintf(&out, "price of exactly-once in PostgreSQL alone at %d clients: pgbench running atomic's keyed statement runs at %.2fx its rate without a key\n",
				r.Clients, r.PgbenchKeyed/r.Pgbench)
		}
		for _, s := range b.Strategies {
			if ratio, ok := r.KeyedRatios[s]; ok {
				fmt.Fprintf(&out, "price of exactly-once at %d clients: %s with idempotency keys runs at %.2fx its rate without\n", r.Clients, s, ratio)
			}
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// Save writes the rows into dir as bench.json.
func (b Bench) Save(dir string) error {
	encoded, _ := json.MarshalIndent(b.Rows, "", "  ")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench.json"), append(encoded, '\n'), 0o644)
}
