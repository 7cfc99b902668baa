package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/evento-lab/evento/lab/checker"
)

// Comparison is several strategies run on the same workload, one fresh
// event each, side by side.
type Comparison struct {
	Workload Workload        `json:"workload"`
	Rows     []ComparisonRow `json:"table"`
	Reports  []Report        `json:"reports"`
}

// Workload is what every strategy of a comparison faced.
type Workload struct {
	Clients int    `json:"clients"`
	Servers int    `json:"servers"`
	Hotels  int    `json:"hotels"`
	Rooms   int    `json:"rooms"`
	Think   string `json:"think"`
	Seed    uint64 `json:"seed"`
}

// ComparisonRow is one strategy's line of the table. Its numbers are the
// same as in its Report.
type ComparisonRow struct {
	Strategy              string   `json:"strategy"`
	Verdict               string   `json:"verdict"`
	SelloutSeconds        *float64 `json:"sellout_seconds"`
	ReservationsPerSecond float64  `json:"reservations_per_second"`
	P50Ms                 float64  `json:"p50_ms"`
	P99Ms                 float64  `json:"p99_ms"`
	Conflicts             int64    `json:"conflicts"`
	Retries               int64    `json:"retries"`
	Errors                int64    `json:"errors"`
	ServerRetries         int64    `json:"server_retries"`
	MeanBatchSize         float64  `json:"mean_batch_size"`
	// RatioToFastestSafe is reservations/s relative to the fastest
	// strategy whose verdict was consistent (1 for that one; 0 when none
	// was). Unsafe strategies get a ratio too: speed bought with
	// overbooking is worth seeing.
	RatioToFastestSafe float64 `json:"ratio_to_fastest_safe"`
	FastestSafe        bool    `json:"fastest_safe"`
}

// Compare builds the table from per-strategy reports, in their order.
func Compare(w Workload, reports []Report) Comparison {
	c := Comparison{Workload: w, Reports: reports}
	fastest := -1
	for i, r := range reports {
		if r.Verdict == checker.Consistent && (fastest < 0 || r.ReservationsPerSecond > reports[fastest].ReservationsPerSecond) {
			fastest = i
		}
	}
	for i, r := range reports {
		row := ComparisonRow{
			Strategy: r.Strategy, Verdict: r.Verdict, SelloutSeconds: r.SelloutSeconds,
			ReservationsPerSecond: r.ReservationsPerSecond, P50Ms: r.LatencyMs.P50, P99Ms: r.LatencyMs.P99,
			Conflicts: r.Requests.Conflict, Retries: r.Requests.Retries, Errors: r.Requests.Error,
			FastestSafe: i == fastest,
		}
		if r.Server != nil {
			row.ServerRetries = int64(r.Server.SerializationRetries)
			row.MeanBatchSize = r.Server.MeanBatchSize()
		}
		if fastest >= 0 && reports[fastest].ReservationsPerSecond > 0 {
			row.RatioToFastestSafe = r.ReservationsPerSecond / reports[fastest].ReservationsPerSecond
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

// WriteText writes the comparison as one table.
func (c Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	wl := c.Workload
	fmt.Fprintf(&b, "%d clients, %s, %d hotels x %d rooms, think %s, seed %d, one fresh event per strategy\n\n",
		wl.Clients, plural(wl.Servers, "server"), wl.Hotels, wl.Rooms, wl.Think, wl.Seed)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\tverdict\tsell-out s\treservations/s\tp50 ms\tp99 ms\tconflicts\tretries\tserver retries\tmean batch\terrors\tvs fastest safe\t")
	for _, r := range c.Rows {
		sellout := "-"
		if r.SelloutSeconds != nil {
			sellout = fmt.Sprintf("%.2f", *r.SelloutSeconds)
		}
		ratio := fmt.Sprintf("%.2fx", r.RatioToFastestSafe)
		if r.FastestSafe {
			ratio = "1.00x (fastest)"
		}
		batch := "-"
		if r.MeanBatchSize > 0 {
			batch = fmt.Sprintf("%.1f", r.MeanBatchSize)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.1f\t%.1f\t%d\t%d\t%d\t%s\t%d\t%s\t\n",
			r.Strategy, r.Verdict, sellout, r.ReservationsPerSecond, r.P50Ms, r.P99Ms, r.Conflicts, r.Retries, r.ServerRetries, batch, r.Errors, ratio)
	}
	tw.Flush()
	for _, r := range c.Reports {
		for _, a := range r.Anomalies {
			fmt.Fprintf(&b, "  %s: %s\n", r.Strategy, a)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Save writes the comparison into dir as report.json (the table and every
// run's full report) and report.html (WriteHTML's page).
func (c Comparison) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	encoded, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, append(encoded, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	path = filepath.Join(dir, "report.html")
	page, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := c.WriteHTML(page); err != nil {
		page.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := page.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
