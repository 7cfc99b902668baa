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
	Clients int                `json:"clients"`
	Pgbench float64            `json:"pgbench"`
	Evento  map[string]float64 `json:"evento"`
	Ratios  map[string]float64 `json:"ratio_to_pgbench"`
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
	header := "clients\tpgbench\t"
	for _, s := range b.Strategies {
		header += s + "\tvs pgbench\t"
	}
	fmt.Fprintln(tw, header)
	for _, r := range b.Rows {
		line := fmt.Sprintf("%d\t%.0f\t", r.Clients, r.Pgbench)
		for _, s := range b.Strategies {
			line += fmt.Sprintf("%.0f\t%.2fx\t", r.Evento[s], r.Ratios[s])
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for _, r := range b.Rows {
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
