package report

import (
	"cmp"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/evento-lab/evento/lab/checker"
)

// Comparison is several strategies run on the same workload, one fresh
// event each, side by side; with several rounds, every strategy ran once
// per round, the rounds one after the other.
type Comparison struct {
	Workload Workload `json:"workload"`
	Machine  Machine  `json:"machine"`
	// Rows are one per strategy, ranked: the safe strategies fastest
	// first by rooms correctly sold per second, then the others in the
	// order they ran. With several rounds their numbers are medians.
	Rows []ComparisonRow `json:"table"`
	// Runs are one per run, in the order they ran (round by round); the
	// same numbers as the Rows, before any median.
	Runs []ComparisonRow `json:"runs"`
	// Recommendation says, in plain words and from the numbers above
	// only, which safe strategy to choose and what the others cost.
	Recommendation []string `json:"recommendation"`
	// Reports are every run's full report, in the order of Runs.
	Reports []Report `json:"reports"`
	// SQL is each strategy's query file, by strategy; the lab fills it
	// from the queries package so that the page can show what ran. The
	// JSON names the file (SQLFile) rather than repeating it.
	SQL map[string]string `json:"-"`
}

// Workload is what every strategy of a comparison faced, and how the
// comparison was run: the settings that produced it.
type Workload struct {
	Clients    int      `json:"clients"`
	Servers    int      `json:"servers"`
	Route      string   `json:"route,omitempty"` // "" for round-robin, the default
	Pool       int      `json:"pool,omitempty"`
	Events     int      `json:"events,omitempty"`
	Hotels     int      `json:"hotels"`
	Rooms      int      `json:"rooms"`
	Think      string   `json:"think"`
	Seed       uint64   `json:"seed"`
	Rounds     int      `json:"rounds,omitempty"`
	RaceWindow string   `json:"race_window,omitempty"`
	Faults     []string `json:"faults,omitempty"`
	Auth       bool     `json:"auth,omitempty"`
}

// Machine is what ran the comparison: the build, the cores and the
// database. Numbers from another machine or commit compare only loosely.
type Machine struct {
	Commit     string `json:"commit"` // vcs.revision of the build, "unknown" without one
	Modified   bool   `json:"modified,omitempty"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	CPUs       int    `json:"cpus"`
	PostgreSQL string `json:"postgresql"` // SHOW server_version; "unknown" when not read
	// DatabaseKind is SingleServer or ReplicatedPair, with the pair's
	// Durability: a pair waiting for its standby books more slowly.
	DatabaseKind string `json:"database_kind,omitempty"`
	Durability   string `json:"durability,omitempty"`
}

// ComparisonRow is one strategy's line of the table, or one run of it
// (Round > 0). A strategy's line has the median of its runs' numbers.
type ComparisonRow struct {
	Strategy string `json:"strategy"`
	Round    int    `json:"round,omitempty"` // the run's round; 0 on a strategy's line
	Rounds   int    `json:"rounds"`          // runs behind the numbers
	// Verdict is the worst of its runs': one overbooked run makes the
	// strategy overbooked.
	Verdict string `json:"verdict"`
	// Rank is 1 for the fastest safe strategy, 2 for the next…; 0 for a
	// strategy that is not safe (its verdict is not consistent), which
	// is not ranked at all: its speed was bought with wrong answers.
	Rank int `json:"rank"`
	// RoomsSold is the rooms correctly sold: each hotel's booked rooms,
	// never more than it has, summed.
	RoomsSold int64 `json:"rooms_sold"`
	// RoomsPerSecond ranks the strategies: RoomsSold per second until
	// sell-out (until the end of the run when it did not sell out). Min
	// and max are the spread over the rounds.
	RoomsPerSecond        float64  `json:"rooms_per_second"`
	RoomsPerSecondMin     float64  `json:"rooms_per_second_min"`
	RoomsPerSecondMax     float64  `json:"rooms_per_second_max"`
	SelloutSeconds        *float64 `json:"sellout_seconds"`
	ReservationsPerSecond float64  `json:"reservations_per_second"`
	P50Ms                 float64  `json:"p50_ms"`
	P99Ms                 float64  `json:"p99_ms"`
	P99MsMin              float64  `json:"p99_ms_min"`
	P99MsMax              float64  `json:"p99_ms_max"`
	Conflicts             int64    `json:"conflicts"`
	Retries               int64    `json:"retries"`
	Errors                int64    `json:"errors"`
	ServerRetries         int64    `json:"server_retries"`
	MeanBatchSize         float64  `json:"mean_batch_size"`
	// RatioToFastestSafe is RoomsPerSecond relative to the fastest safe
	// strategy's (1 for that one). Null for a strategy that is not safe,
	// and for all when no safe strategy sold anything.
	RatioToFastestSafe *float64 `json:"ratio_to_fastest_safe"`
	FastestSafe        bool     `json:"fastest_safe"`
	SQLFile            string   `json:"sql_file"` // the strategy's statements, in the repository
}

// Safe is whether every run of the strategy was judged consistent.
func (r ComparisonRow) Safe() bool { return r.Verdict == checker.Consistent }

// Compare builds the comparison from the runs' reports in the order they
// ran. A strategy's k-th report is its run of round k, so reports of
// several rounds, interleaved or not, need no other label.
func Compare(w Workload, reports []Report) Comparison {
	c := Comparison{Workload: w, Reports: reports, Machine: Machine{Commit: "unknown", PostgreSQL: "unknown"}}
	var order []string
	byStrategy := map[string][]ComparisonRow{}
	for _, r := range reports {
		if _, seen := byStrategy[r.Strategy]; !seen {
			order = append(order, r.Strategy)
		}
		run := runRow(r)
		run.Round = len(byStrategy[r.Strategy]) + 1
		byStrategy[r.Strategy] = append(byStrategy[r.Strategy], run)
		c.Runs = append(c.Runs, run)
		c.Workload.Rounds = max(c.Workload.Rounds, run.Round)
	}
	for _, name := range order {
		c.Rows = append(c.Rows, summarize(byStrategy[name]))
	}
	rank(c.Rows, func(ComparisonRow) bool { return true })
	// The ranked first, in their order, then the others as they ran.
	slices.SortStableFunc(c.Rows, func(a, b ComparisonRow) int {
		return cmp.Compare(cmp.Or(a.Rank, len(c.Rows)+1), cmp.Or(b.Rank, len(c.Rows)+1))
	})
	// A run is ranked against the other runs of its round, and stays where
	// it ran.
	for round := 1; round <= c.Workload.Rounds; round++ {
		rank(c.Runs, func(r ComparisonRow) bool { return r.Round == round })
	}
	c.Recommendation = recommend(c.Rows, c.Workload.Rounds)
	return c
}

// runRow is one report's numbers.
func runRow(r Report) ComparisonRow {
	row := ComparisonRow{
		Strategy: r.Strategy, Rounds: 1, Verdict: r.Verdict, SelloutSeconds: r.SelloutSeconds,
		ReservationsPerSecond: r.ReservationsPerSecond, P50Ms: r.LatencyMs.P50, P99Ms: r.LatencyMs.P99,
		Conflicts: r.Requests.Conflict, Retries: r.Requests.Retries, Errors: r.Requests.Error,
		SQLFile: "queries/" + r.Strategy + ".sql",
	}
	for _, h := range r.Hotels {
		row.RoomsSold += max(min(h.Booked, h.Assigned), 0)
	}
	window := r.ElapsedSeconds
	if r.SelloutSeconds != nil {
		window = *r.SelloutSeconds
	}
	if window > 0 {
		row.RoomsPerSecond = float64(row.RoomsSold) / window
	}
	row.RoomsPerSecondMin, row.RoomsPerSecondMax = row.RoomsPerSecond, row.RoomsPerSecond
	row.P99MsMin, row.P99MsMax = row.P99Ms, row.P99Ms
	if r.Server != nil {
		row.ServerRetries = int64(r.Server.Reruns)
		row.MeanBatchSize = r.Server.MeanBatchSize()
	}
	return row
}

// summarize is a strategy's line from its runs: the median of every
// number, the spread of the ranking rate and of p99, the worst verdict.
func summarize(runs []ComparisonRow) ComparisonRow {
	s := ComparisonRow{Strategy: runs[0].Strategy, Rounds: len(runs), SQLFile: runs[0].SQLFile, Verdict: worstVerdict(runs)}
	pick := func(f func(ComparisonRow) float64) []float64 {
		xs := make([]float64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return xs
	}
	medianInt := func(f func(ComparisonRow) int64) int64 {
		return int64(math.Round(Median(pick(func(r ComparisonRow) float64 { return float64(f(r)) }))))
	}
	rates := pick(func(r ComparisonRow) float64 { return r.RoomsPerSecond })
	s.RoomsPerSecond, s.RoomsPerSecondMin, s.RoomsPerSecondMax = Median(rates), slices.Min(rates), slices.Max(rates)
	p99s := pick(func(r ComparisonRow) float64 { return r.P99Ms })
	s.P99Ms, s.P99MsMin, s.P99MsMax = Median(p99s), slices.Min(p99s), slices.Max(p99s)
	s.P50Ms = Median(pick(func(r ComparisonRow) float64 { return r.P50Ms }))
	s.ReservationsPerSecond = Median(pick(func(r ComparisonRow) float64 { return r.ReservationsPerSecond }))
	s.MeanBatchSize = Median(pick(func(r ComparisonRow) float64 { return r.MeanBatchSize }))
	s.RoomsSold = medianInt(func(r ComparisonRow) int64 { return r.RoomsSold })
	s.Conflicts = medianInt(func(r ComparisonRow) int64 { return r.Conflicts })
	s.Retries = medianInt(func(r ComparisonRow) int64 { return r.Retries })
	s.Errors = medianInt(func(r ComparisonRow) int64 { return r.Errors })
	s.ServerRetries = medianInt(func(r ComparisonRow) int64 { return r.ServerRetries })
	// A sell-out time only when every run sold out: a median over the
	// runs that did would hide the ones that did not.
	var sellouts []float64
	for _, r := range runs {
		if r.SelloutSeconds != nil {
			sellouts = append(sellouts, *r.SelloutSeconds)
		}
	}
	if len(sellouts) == len(runs) {
		m := Median(sellouts)
		s.SelloutSeconds = &m
	}
	return s
}

// worstVerdict: any run that is not consistent decides, the most serious
// first; a strategy is only as safe as its worst run.
func worstVerdict(runs []ComparisonRow) string {
	for _, v := range []string{checker.Overbooked, checker.Inconsistent} {
		if slices.ContainsFunc(runs, func(r ComparisonRow) bool { return r.Verdict == v }) {
			return v
		}
	}
	if i := slices.IndexFunc(runs, func(r ComparisonRow) bool { return !r.Safe() }); i >= 0 {
		return runs[i].Verdict
	}
	return checker.Consistent
}

// rank sets Rank, FastestSafe and the ratios among the rows that among
// chooses, without moving any: the safe ones by RoomsPerSecond, fastest
// first (ties keep their order).
func rank(rows []ComparisonRow, among func(ComparisonRow) bool) {
	var safe []*ComparisonRow
	for i, r := range rows {
		if among(r) && r.Safe() {
			safe = append(safe, &rows[i])
		}
	}
	slices.SortStableFunc(safe, func(a, b *ComparisonRow) int {
		return cmp.Compare(rateKey(b.RoomsPerSecond), rateKey(a.RoomsPerSecond))
	})
	for i, r := range safe {
		r.Rank = i + 1
	}
	if len(safe) == 0 {
		return
	}
	safe[0].FastestSafe = true
	best := safe[0].RoomsPerSecond
	if !(best > 0) || math.IsInf(best, 0) {
		return
	}
	for _, r := range safe {
		ratio := r.RoomsPerSecond / best
		r.RatioToFastestSafe = &ratio
	}
}

// rateKey sorts a NaN rate last rather than anywhere.
func rateKey(v float64) float64 {
	if math.IsNaN(v) {
		return math.Inf(-1)
	}
	return v
}

// Median is the middle of xs (the mean of the two middle values for an
// even count); 0 for none. The lab's bench uses it too.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TextOptions choose the table's columns.
type TextOptions struct {
	Wide bool // adds the columns the default table leaves out to fit 100 characters
}

// columns are the comparison's columns that keep chooses.
func (c Comparison) columns(keep func(column) bool) []column {
	var cols []column
	for _, col := range comparisonColumns(c.Workload.Rounds) {
		if keep(col) && (!col.rounds || c.Workload.Rounds > 1) {
			cols = append(cols, col)
		}
	}
	return cols
}

// WriteText writes the comparison as one table, then the recommendation.
// The default table fits 100 columns.
func (c Comparison) WriteText(w io.Writer, opts TextOptions) error {
	var b strings.Builder
	b.WriteString(Wrap(c.workloadLine(), 100, "", "  ") + "\n")
	b.WriteString(Wrap(c.machineLine(), 100, "", "  ") + "\n\n")
	rounds := c.Workload.Rounds > 1
	cols := c.columns(func(col column) bool { return col.head != "" && !col.pageOnly && (opts.Wide || !col.wide) })
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, col := range cols {
		fmt.Fprint(tw, col.head, "\t")
	}
	fmt.Fprintln(tw)
	for _, r := range c.Rows {
		for _, col := range cols {
			fmt.Fprint(tw, col.text(r, c.Machine, fixed), "\t")
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	note := "rooms/s: rooms correctly sold (never more than a hotel has) per second until sell-out"
	if rounds {
		note += fmt.Sprintf("; medians of %d interleaved rounds, min-max their spread", c.Workload.Rounds)
	}
	b.WriteString(Wrap(note+".", 100, "", "  ") + "\n")
	for i, r := range c.Reports {
		name := r.Strategy
		if rounds && i < len(c.Runs) {
			name += fmt.Sprintf(" (round %d)", c.Runs[i].Round)
		}
		for _, a := range r.Anomalies {
			fmt.Fprintf(&b, "  %s: %s\n", name, a)
		}
	}
	b.WriteString("\nRecommendation:\n")
	for _, s := range c.Recommendation {
		b.WriteString(Wrap(s, 100, "  - ", "    ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c Comparison) workloadLine() string {
	wl := c.Workload
	servers := plural(wl.Servers, "server")
	if wl.Pool > 0 {
		servers += fmt.Sprintf(" (pool %d)", wl.Pool)
	}
	servers += routedBy(wl.Route)
	s := fmt.Sprintf("%d clients, %s, %d hotels x %d rooms, think %s, seed %d; a fresh event per run",
		wl.Clients, servers, wl.Hotels, wl.Rooms, wl.Think, wl.Seed)
	if wl.Rounds > 1 {
		s += fmt.Sprintf(", %d rounds interleaved", wl.Rounds)
	}
	if wl.Events > 1 {
		s += fmt.Sprintf(", %d events", wl.Events)
	}
	if wl.RaceWindow != "" && wl.RaceWindow != "0s" {
		s += ", race window " + wl.RaceWindow
	}
	if len(wl.Faults) > 0 {
		s += ", faults " + strings.Join(wl.Faults, ",")
	}
	if wl.Auth {
		s += ", auth keys"
	}
	return s
}

func (c Comparison) machineLine() string {
	m := c.Machine
	commit := m.Commit
	if len(commit) > 12 {
		commit = commit[:12] // as git abbreviates it; the JSON and CSV keep it whole
	}
	if m.Modified {
		commit += " (modified)"
	}
	s := fmt.Sprintf("commit %s, %s, PostgreSQL %s", commit, plural(m.CPUs, "CPU"), m.PostgreSQL)
	if line := databaseLine(m.DatabaseKind, m.Durability); line != "" {
		s += " (" + line + ")"
	}
	if m.GoVersion != "" {
		s += fmt.Sprintf(", %s %s/%s", m.GoVersion, m.OS, m.Arch)
	}
	return s
}

// ratioText is the "vs fastest" cell: a strategy that is not safe has
// no speed worth comparing, only its verdict.
func ratioText(r ComparisonRow) string {
	switch {
	case r.FastestSafe:
		return "fastest"
	case r.Verdict == checker.Overbooked || r.Verdict == checker.Inconsistent:
		return "unsafe"
	case r.RatioToFastestSafe == nil:
		return "-"
	}
	return fmt.Sprintf("%.2fx", *r.RatioToFastestSafe)
}

// Wrap breaks s at spaces into lines of at most width characters (a word
// longer than a line stays whole), the first starting with first and the
// others with rest. Every text Evento prints for a terminal keeps within
// 100 columns through it.
func Wrap(s string, width int, first, rest string) string {
	var b strings.Builder
	line, space := first, ""
	for _, word := range strings.Fields(s) {
		if space != "" && utf8.RuneCountInString(line+space+word) > width {
			b.WriteString(line + "\n")
			line, space = rest, ""
		}
		line += space + word
		space = " "
	}
	b.WriteString(line)
	return b.String()
}

// WriteCSV writes one line per strategy (round "median", the table's
// numbers) and, with several rounds, one per run (round 1, 2, …). Empty
// cells are numbers that do not exist: no sell-out, no ratio.
func (c Comparison) WriteCSV(w io.Writer) error {
	cols := c.columns(func(col column) bool { return col.name != "" })
	cw := csv.NewWriter(w)
	record := make([]string, len(cols))
	for i, col := range cols {
		record[i] = col.name
	}
	cw.Write(record)
	lines := c.Rows
	if c.Workload.Rounds > 1 {
		lines = append(slices.Clone(c.Rows), c.Runs...)
	}
	for _, r := range lines {
		for i, col := range cols {
			record[i] = col.csv(r, c.Machine)
		}
		cw.Write(record)
	}
	cw.Flush()
	return cw.Error()
}

// CheckDir makes dir if need be and proves it writable, so that a
// comparison that takes minutes does not end in "permission denied".
func CheckDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".evento-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// Save writes the comparison into dir as report.json (the table and every
// run's full report), report.csv (WriteCSV) and report.html (WriteHTML's
// page), and returns the paths it wrote.
func (c Comparison) Save(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	encoded, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	var written []string
	path := filepath.Join(dir, "report.json")
	if err := os.WriteFile(path, append(encoded, '\n'), 0o644); err != nil {
		return written, fmt.Errorf("write %s: %w", path, err)
	}
	written = append(written, path)
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"report.csv", c.WriteCSV}, {"report.html", c.WriteHTML}} {
		path := filepath.Join(dir, f.name)
		if err := writeFile(path, f.write); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err == nil {
		err = write(f)
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
