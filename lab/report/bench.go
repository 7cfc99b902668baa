package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	// CPU is where each measurement's CPU went ("pgbench", "pgbench+keys"
	// and each strategy); none where it could not be read.
	CPU map[string]BenchCPU `json:"cpu_per_booking,omitempty"`
}

// BenchCPU is the CPU one measurement used per booking, in microseconds,
// over all its rounds: everything its windows used divided by everything
// they booked.
type BenchCPU struct {
	Bookings int64 `json:"bookings"`
	// Load is what made the requests: pgbench's process, or Evento's
	// clients (the bench process itself).
	Load float64 `json:"load_us"`
	// Servers are Evento's server processes; 0 for pgbench, which has none.
	Servers float64 `json:"servers_us"`
	// PostgreSQL is its postmaster and every backend and worker it ran,
	// those that exited during the run included.
	PostgreSQL float64 `json:"postgresql_us"`
	Total      float64 `json:"total_us"`
	// Machine is every process's busy CPU on the machine (/proc/stat)
	// over the same windows: far above Total, something else was busy.
	Machine float64 `json:"machine_us"`
	Cores   int     `json:"cores"`
	// Ceiling is the most bookings a second Cores could make at Total
	// CPU each: the limit the machine sets, whatever waits on locks.
	Ceiling float64 `json:"ceiling_per_s"`
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

// Pgbench and PgbenchKeyed name pgbench's measurements; KeyedSuffix ends
// a strategy measured with idempotency keys.
const (
	Pgbench      = "pgbench"
	KeyedSuffix  = "+keys"
	PgbenchKeyed = Pgbench + KeyedSuffix
)

// WriteText writes the benchmark as one table, one line per measurement.
func (b Bench) WriteText(w io.Writer) error {
	var out strings.Builder
	fmt.Fprintf(&out, "booked/s: medians of %d interleaved %s runs on one hot row; Evento: %d servers over HTTP, think 0\n",
		b.Rounds, b.Duration, b.Servers)
	cpu := slices.ContainsFunc(b.Rows, func(r BenchRow) bool { return len(r.CPU) > 0 })
	if cpu {
		out.WriteString(cpuLegend)
	}
	out.WriteString("\n")
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "clients\tmeasured\tbooked/s\tvs pgbench\t"
	if cpu {
		header += "load\tservers\tpostgres\ttotal\tceiling\tmachine\t"
	}
	fmt.Fprintln(tw, header)
	for _, r := range b.Rows {
		for _, m := range r.measurements(b.Strategies) {
			line := fmt.Sprintf("%d\t%s\t%.0f\t%s\t", r.Clients, m.name, m.rate, m.ratio)
			if c, ok := r.CPU[m.name]; ok {
				servers := "-"
				if c.Servers > 0 {
					servers = fmt.Sprintf("%.0f", c.Servers)
				}
				line += fmt.Sprintf("%.0f\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t", c.Load, servers, c.PostgreSQL, c.Total, c.Ceiling, c.Machine)
			} else if cpu {
				line += "?\t?\t?\t?\t?\t?\t"
			}
			fmt.Fprintln(tw, line)
		}
	}
	tw.Flush()
	var prices []string
	for _, r := range b.Rows {
		for _, name := range append([]string{Pgbench}, b.Strategies...) {
			if price, ok := r.exactlyOnce(name); ok {
				prices = append(prices, price)
			}
		}
	}
	if len(prices) > 0 {
		out.WriteString("price of exactly-once, NAME+keys against NAME (pgbench: in PostgreSQL alone):\n")
		out.WriteString(strings.Join(prices, ""))
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// cpuLegend explains the CPU columns, under 100 columns a line.
const cpuLegend = `CPU per booking in µs, all rounds together: load (pgbench, or Evento's clients), servers,
postgres (postmaster and every backend), total; ceiling: bookings/s = cores ÷ total; machine:
every process's busy CPU over the same windows (far above total: something else was busy)
`

// benchMeasurement is one line of the table.
type benchMeasurement struct {
	name  string
	rate  float64
	ratio string
}

// measurements are pgbench's and every strategy's at r's client count.
func (r BenchRow) measurements(strategies []string) []benchMeasurement {
	ms := []benchMeasurement{{name: Pgbench, rate: r.Pgbench, ratio: "-"}}
	if r.PgbenchKeyed > 0 {
		ms = append(ms, benchMeasurement{PgbenchKeyed, r.PgbenchKeyed, ratio(r.PgbenchKeyed, r.Pgbench)})
	}
	for _, s := range strategies {
		ms = append(ms, benchMeasurement{s, r.Evento[s], fmt.Sprintf("%.2fx", r.Ratios[s])})
	}
	return ms
}

func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

// exactlyOnce is one line on the price of exactly-once for name, measured
// both with keys and without: the rate, and PostgreSQL's CPU per booking.
func (r BenchRow) exactlyOnce(name string) (string, bool) {
	keyedRate, rate := r.PgbenchKeyed, r.Pgbench
	if name != Pgbench {
		keyedRate, rate = r.Evento[name+KeyedSuffix], r.Evento[name]
	}
	if keyedRate <= 0 || rate <= 0 {
		return "", false
	}
	line := fmt.Sprintf("  %d clients, %s: %.2fx the rate", r.Clients, name, keyedRate/rate)
	keyed, okKeyed := r.CPU[name+KeyedSuffix]
	plain, okPlain := r.CPU[name]
	if okKeyed && okPlain && plain.PostgreSQL > 0 {
		line += fmt.Sprintf(", %.2fx PostgreSQL's CPU per booking", keyed.PostgreSQL/plain.PostgreSQL)
	}
	return line + "\n", true
}

// Save writes the rows into dir as bench.json.
func (b Bench) Save(dir string) error {
	encoded, _ := json.MarshalIndent(b.Rows, "", "  ")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench.json"), append(encoded, '\n'), 0o644)
}
