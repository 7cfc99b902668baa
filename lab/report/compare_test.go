package report_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/report"
)

// run is one strategy's run: rooms booked in each of its two hotels of
// 300, a sell-out time (0: did not sell out, in 10 s), a p99 and conflicts.
type run struct {
	strategy, verdict string
	booked            int64
	sellout, p99      float64
	conflicts         int64
	batch             float64 // mean batch size; 0: not batched
}

func (r run) report() report.Report {
	rep := report.Report{
		Strategy: r.strategy, Verdict: r.verdict, ElapsedSeconds: 10,
		LatencyMs: client.LatencyMs{P50: r.p99 / 3, P99: r.p99},
		Requests:  client.RequestCounts{Conflict: r.conflicts, Retries: r.conflicts},
		Hotels:    []report.HotelReport{{Assigned: 300, Booked: r.booked}, {Assigned: 300, Booked: r.booked}},
		Anomalies: []string{}, Notes: []string{},
	}
	if r.sellout > 0 {
		rep.SelloutSeconds = &r.sellout // r is a copy of its own
		rep.ReservationsPerSecond = float64(2*r.booked) / r.sellout
	}
	if r.batch > 0 {
		rep.Server = &report.ServerStats{Batches: 100, BatchedRequests: 100 * r.batch}
	}
	return rep
}

func compare(runs ...run) report.Comparison {
	reports := make([]report.Report, len(runs))
	for i, r := range runs {
		reports[i] = r.report()
	}
	return report.Compare(report.Workload{Clients: 100, Servers: 2, Hotels: 2, Rooms: 300, Think: "0s", Seed: 3}, reports)
}

func row(t *testing.T, c report.Comparison, strategy string) report.ComparisonRow {
	t.Helper()
	if i := slices.IndexFunc(c.Rows, func(r report.ComparisonRow) bool { return r.Strategy == strategy }); i >= 0 {
		return c.Rows[i]
	}
	t.Fatalf("no row for %s in %+v", strategy, c.Rows)
	return report.ComparisonRow{}
}

func text(t *testing.T, c report.Comparison, opts report.TextOptions) string {
	t.Helper()
	var b strings.Builder
	if err := c.WriteText(&b, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// An overbooking strategy that "sold" more, sooner, must not come first:
// rooms that do not exist are no speed. atomic ranks first, naive gets no
// ratio and says why.
func TestCompareRanksOnlySafeStrategies(t *testing.T) {
	t.Parallel()
	c := compare(
		run{strategy: "naive", verdict: checker.Overbooked, booked: 1800, sellout: 0.5, p99: 20},
		run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
		run{strategy: "optimistic", verdict: checker.Consistent, booked: 300, sellout: 2.0, p99: 25, conflicts: 40},
	)
	if got := []string{c.Rows[0].Strategy, c.Rows[1].Strategy, c.Rows[2].Strategy}; !slices.Equal(got, []string{"atomic", "optimistic", "naive"}) {
		t.Errorf("rows ranked %v, want atomic, optimistic, naive", got)
	}
	atomic, naive := row(t, c, "atomic"), row(t, c, "naive")
	if !atomic.FastestSafe || atomic.Rank != 1 || atomic.RatioToFastestSafe == nil || *atomic.RatioToFastestSafe != 1 {
		t.Errorf("atomic is not the fastest safe: %+v", atomic)
	}
	if naive.FastestSafe || naive.Rank != 0 || naive.RatioToFastestSafe != nil {
		t.Errorf("naive is ranked: rank %d, ratio %v", naive.Rank, naive.RatioToFastestSafe)
	}
	// Capped at capacity: 2 hotels of 300, whatever naive booked.
	if naive.RoomsSold != 600 || atomic.RoomsSold != 600 || atomic.RoomsPerSecond != 600 {
		t.Errorf("rooms sold: naive %d, atomic %d at %v/s; want 600, 600 at 600/s", naive.RoomsSold, atomic.RoomsSold, atomic.RoomsPerSecond)
	}
	if o := row(t, c, "optimistic"); o.RatioToFastestSafe == nil || *o.RatioToFastestSafe != 0.5 || o.Rank != 2 {
		t.Errorf("optimistic: rank %d ratio %v, want 2 and 0.5", o.Rank, o.RatioToFastestSafe)
	}
	ends := map[string]string{"naive": "unsafe", "atomic": "fastest"}
	for _, line := range strings.Split(text(t, c, report.TextOptions{}), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		if want, ok := ends[fields[0]]; ok && fields[len(fields)-1] != want {
			t.Errorf("%s's line ends in %q, want %s: %q", fields[0], fields[len(fields)-1], want, line)
		}
	}
}

// The recommendation names the fastest safe strategy, says what the
// others paid, and calls a difference within the rounds' spread not
// conclusive; a clear one it calls held.
func TestRecommendation(t *testing.T) {
	t.Parallel()
	recommendation := func(runs ...run) string { return strings.Join(compare(runs...).Recommendation, "\n") }
	t.Run("overlapping spreads", func(t *testing.T) {
		t.Parallel()
		// Two rounds, interleaved: batched 600 and 500 rooms/s, atomic
		// 545 and 522: their ranges overlap.
		rec := recommendation(
			run{strategy: "naive", verdict: checker.Overbooked, booked: 900, sellout: 0.4, p99: 10},
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.1, p99: 30},
			run{strategy: "batched", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 60, batch: 6},
			run{strategy: "optimistic", verdict: checker.Consistent, booked: 300, sellout: 3.0, p99: 20, conflicts: 1500},
			run{strategy: "naive", verdict: checker.Consistent, booked: 300, sellout: 0.4, p99: 10}, // lucky once
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.15, p99: 32},
			run{strategy: "batched", verdict: checker.Consistent, booked: 300, sellout: 1.2, p99: 58, batch: 6},
			run{strategy: "optimistic", verdict: checker.Consistent, booked: 300, sellout: 3.2, p99: 22, conflicts: 1700},
		)
		if !strings.HasPrefix(rec, "batched was the fastest safe strategy: 550 rooms/s") {
			t.Errorf("does not open with batched's median:\n%s", rec)
		}
		for _, want := range []string{
			"range 500-600",
			"atomic: 534 rooms/s, median of 2 rounds, range 522-545, p99 31.0 ms, no conflicts; its range overlaps batched's, so the difference is within the spread: not conclusive.",
			"optimistic reached 0.35x",
			"1,600 conflicts (1,600 client retries)",
			"without batching, atomic was the fastest",
			"If the slowest answers matter more than throughput, optimistic had the shortest tail: p99 21.0 ms against 59.0 ms",
			"Not conclusive: over 2 rounds",
			"naive is not ranked: its verdict was overbooked",
		} {
			if !strings.Contains(rec, want) {
				t.Errorf("recommendation lacks %q:\n%s", want, rec)
			}
		}
		if strings.Contains(rec, "naive was") || strings.Contains(rec, "naive reached") {
			t.Errorf("the overbooking strategy got a speed:\n%s", rec)
		}
	})
	t.Run("runners-up overlap", func(t *testing.T) {
		t.Parallel()
		// atomic 600 clear of the rest; pessimistic 300-333 and advisory
		// 286-316 overlap each other, not optimistic at 100.
		rec := recommendation(
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
			run{strategy: "pessimistic", verdict: checker.Consistent, booked: 300, sellout: 2.0, p99: 30},
			run{strategy: "advisory", verdict: checker.Consistent, booked: 300, sellout: 2.1, p99: 30},
			run{strategy: "optimistic", verdict: checker.Consistent, booked: 300, sellout: 6, p99: 30},
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
			run{strategy: "pessimistic", verdict: checker.Consistent, booked: 300, sellout: 1.8, p99: 30},
			run{strategy: "advisory", verdict: checker.Consistent, booked: 300, sellout: 1.9, p99: 30},
			run{strategy: "optimistic", verdict: checker.Consistent, booked: 300, sellout: 6, p99: 30},
		)
		if !strings.Contains(rec, "The ranges of pessimistic and advisory overlap: their order among themselves is not conclusive.") ||
			strings.Contains(rec, "optimistic overlap") || !strings.Contains(rec, "its first place held in every round") {
			t.Errorf("overlapping runners-up not flagged, or flagged wrongly:\n%s", rec)
		}
	})
	t.Run("a chain of overlaps is not one group", func(t *testing.T) {
		t.Parallel()
		// batched 1,200-2,400 rooms/s overlaps pessimistic 1,000-1,300,
		// which overlaps advisory 800-1,040; batched and advisory never met.
		rec := recommendation(
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 0.1, p99: 30},
			run{strategy: "batched", verdict: checker.Consistent, booked: 300, sellout: 0.25, p99: 30},
			run{strategy: "pessimistic", verdict: checker.Consistent, booked: 300, sellout: 300.0 / 650, p99: 30},
			run{strategy: "advisory", verdict: checker.Consistent, booked: 300, sellout: 300.0 / 520, p99: 30},
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 0.1, p99: 30},
			run{strategy: "batched", verdict: checker.Consistent, booked: 300, sellout: 0.5, p99: 30},
			run{strategy: "pessimistic", verdict: checker.Consistent, booked: 300, sellout: 0.6, p99: 30},
			run{strategy: "advisory", verdict: checker.Consistent, booked: 300, sellout: 0.75, p99: 30},
		)
		for _, want := range []string{
			"The ranges of batched and pessimistic overlap: their order among themselves is not conclusive.",
			"The ranges of pessimistic and advisory overlap: their order among themselves is not conclusive.",
		} {
			if !strings.Contains(rec, want) {
				t.Errorf("recommendation lacks %q:\n%s", want, rec)
			}
		}
		if strings.Contains(rec, "batched, pessimistic and advisory") {
			t.Errorf("a chain called one group:\n%s", rec)
		}
	})
	t.Run("clear winner", func(t *testing.T) {
		t.Parallel()
		rec := recommendation(
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
			run{strategy: "pessimistic", verdict: checker.Consistent, booked: 300, sellout: 2.0, p99: 30},
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.1, p99: 30},
			run{strategy: "pessimistic", verdict: checker.Consistent, booked: 300, sellout: 2.2, p99: 30},
		)
		if !strings.HasPrefix(rec, "atomic was the fastest safe strategy") || strings.Contains(rec, "not conclusive") ||
			!strings.Contains(rec, "its first place held in every round") {
			t.Errorf("a clear winner is not recommended plainly:\n%s", rec)
		}
	})
	t.Run("one round", func(t *testing.T) {
		t.Parallel()
		rec := recommendation(
			run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
			run{strategy: "advisory", verdict: checker.Consistent, booked: 300, sellout: 1.03, p99: 30},
		)
		for _, want := range []string{"advisory was within 3% (583 rooms/s)", "One round only: no spread was measured"} {
			if !strings.Contains(rec, want) {
				t.Errorf("recommendation lacks %q:\n%s", want, rec)
			}
		}
	})
	t.Run("nothing safe", func(t *testing.T) {
		t.Parallel()
		rec := recommendation(run{strategy: "naive", verdict: checker.Overbooked, booked: 900, sellout: 0.4, p99: 10})
		if !strings.Contains(rec, "No strategy was safe (naive overbooked)") {
			t.Errorf("recommendation: %s", rec)
		}
	})
}

// Rounds: a strategy's k-th report is its run of round k; its line is
// the median of its runs with their min and max, and its worst verdict.
func TestCompareRoundsMedians(t *testing.T) {
	t.Parallel()
	c := compare(
		run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
		run{strategy: "naive", verdict: checker.Consistent, booked: 300, sellout: 0.5, p99: 10},
		run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 3.0, p99: 90},
		run{strategy: "naive", verdict: checker.Overbooked, booked: 400, sellout: 0.5, p99: 10},
		run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 2.0, p99: 40},
		run{strategy: "naive", verdict: checker.Consistent, booked: 300, sellout: 0.5, p99: 10},
	)
	if c.Workload.Rounds != 3 || len(c.Runs) != 6 || len(c.Rows) != 2 {
		t.Fatalf("rounds %d, %d runs, %d rows; want 3, 6, 2", c.Workload.Rounds, len(c.Runs), len(c.Rows))
	}
	var rounds []int
	for _, r := range c.Runs {
		rounds = append(rounds, r.Round)
	}
	if !slices.Equal(rounds, []int{1, 1, 2, 2, 3, 3}) {
		t.Errorf("runs' rounds %v, want 1 1 2 2 3 3", rounds)
	}
	atomic := row(t, c, "atomic")
	if atomic.RoomsPerSecond != 300 || atomic.RoomsPerSecondMin != 200 || atomic.RoomsPerSecondMax != 600 ||
		atomic.P99Ms != 40 || atomic.P99MsMin != 30 || atomic.P99MsMax != 90 || *atomic.SelloutSeconds != 2 || atomic.Rounds != 3 {
		t.Errorf("atomic's medians: %+v", atomic)
	}
	naive := row(t, c, "naive")
	if naive.Verdict != checker.Overbooked || naive.Rank != 0 || c.Rows[0].Strategy != "atomic" {
		t.Errorf("one overbooked round must make naive overbooked and unranked: %+v", naive)
	}
	// Within its round, a run is ranked against that round's runs only.
	if !c.Runs[1].FastestSafe || c.Runs[0].Rank != 2 || c.Runs[3].Rank != 0 || !c.Runs[2].FastestSafe {
		t.Errorf("runs ranked within their rounds wrongly: %+v", c.Runs)
	}
	out := text(t, c, report.TextOptions{})
	if words := strings.Join(strings.Fields(out), " "); !strings.Contains(out, "200-600") || !strings.Contains(words, "3 rounds interleaved") || !strings.Contains(out, "min-max") {
		t.Errorf("the table lacks the spread or the rounds:\n%s", out)
	}
}

// The CSV: a stable header, a line per strategy, and with rounds a line
// per run; a strategy that is not safe has an empty ratio and rank 0.
func TestWriteCSV(t *testing.T) {
	t.Parallel()
	wantHeader := "round,strategy,verdict,rank,rooms_sold,rooms_per_second,rooms_per_second_min,rooms_per_second_max," +
		"sellout_seconds,reservations_per_second,p50_ms,p99_ms,p99_ms_min,p99_ms_max," +
		"conflicts,retries,server_retries,mean_batch_size,errors,ratio_to_fastest_safe,commit,cpus,postgresql"
	for _, tc := range []struct {
		name   string
		runs   []run
		rounds []string
	}{
		{"one round", []run{
			{strategy: "naive", verdict: checker.Overbooked, booked: 900, sellout: 0.4, p99: 10},
			{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
		}, []string{"median", "median"}},
		{"two rounds", []run{
			{strategy: "naive", verdict: checker.Overbooked, booked: 900, sellout: 0.4, p99: 10},
			{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
			{strategy: "naive", verdict: checker.Overbooked, booked: 900, sellout: 0.4, p99: 10},
			{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 1.0, p99: 30},
		}, []string{"median", "median", "1", "1", "2", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := compare(tc.runs...)
			var b bytes.Buffer
			if err := c.WriteCSV(&b); err != nil {
				t.Fatal(err)
			}
			if header, _, _ := strings.Cut(b.String(), "\n"); header != wantHeader {
				t.Errorf("header\n%s\nwant\n%s", header, wantHeader)
			}
			records, err := csv.NewReader(&b).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var rounds []string
			for _, rec := range records[1:] {
				rounds = append(rounds, rec[0])
				switch rec[1] {
				case "atomic":
					if rec[3] != "1" || rec[19] != "1.0000" || rec[5] != "600.00" || rec[8] != "1.000" {
						t.Errorf("atomic: %v", rec)
					}
				case "naive":
					if rec[2] != "overbooked" || rec[3] != "0" || rec[19] != "" {
						t.Errorf("naive must be unranked, without a ratio: %v", rec)
					}
				}
			}
			if !slices.Equal(rounds, tc.rounds) {
				t.Errorf("rounds column %v, want %v", rounds, tc.rounds)
			}
		})
	}
}

// The default table fits a 100-column terminal even with every strategy,
// rounds and large numbers; --wide adds the columns it leaves out.
func TestWriteTextFits100Columns(t *testing.T) {
	t.Parallel()
	var runs []run
	for round := range 3 {
		for _, s := range []string{"naive", "pessimistic", "atomic", "optimistic", "serializable", "advisory", "batched"} {
			v := checker.Consistent
			if s == "naive" {
				v = checker.Inconsistent
			}
			runs = append(runs, run{strategy: s, verdict: v, booked: 150_000, sellout: 0.9 + float64(round)/10, p99: 12345.6, conflicts: 1_234_567})
		}
	}
	c := compare(runs...)
	c.Workload.RaceWindow, c.Workload.Faults, c.Workload.Route = "10ms", []string{"kill-server", "crash-postgres"}, "hotel"
	narrow := text(t, c, report.TextOptions{})
	if !strings.Contains(strings.Join(strings.Fields(narrow), " "), "2 servers, routed by hotel") {
		t.Errorf("the workload does not say how the requests were routed:\n%s", narrow)
	}
	for _, line := range strings.Split(narrow, "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("%d columns: %q", n, line)
		}
	}
	wide := text(t, c, report.TextOptions{Wide: true})
	for _, col := range []string{"reservations/s", "server retries", "mean batch", "errors"} {
		if strings.Contains(narrow, col) || !strings.Contains(wide, col) {
			t.Errorf("column %q: in the default table %v, in --wide %v", col, strings.Contains(narrow, col), strings.Contains(wide, col))
		}
	}
	if !strings.Contains(narrow, "Recommendation:\n  - atomic was the fastest safe strategy") &&
		!strings.Contains(narrow, "Recommendation:\n  - pessimistic was the fastest safe strategy") {
		t.Errorf("no recommendation under the table:\n%s", narrow)
	}
}

// "Which one for me?" in the README's words: each strategy that ran, its
// situation, and what it did here; an unsafe one is named by its verdict,
// never by a rate.
func TestBySituation(t *testing.T) {
	t.Parallel()
	c := compare(
		run{strategy: "batched", verdict: checker.Consistent, booked: 300, sellout: 0.1, p99: 30},
		run{strategy: "atomic", verdict: checker.Consistent, booked: 300, sellout: 0.2, p99: 30},
		run{strategy: "naive", verdict: checker.Overbooked, booked: 900, sellout: 1, p99: 30},
		run{strategy: "unlisted", verdict: checker.Consistent, booked: 300, sellout: 0.3, p99: 30},
	)
	got := report.BySituation(c.Rows, map[string]string{
		"batched": "one hotel is very hot", "atomic": "the rule fits one condition", "naive": "never",
	})
	want := []string{
		"Which one for you (the README's words: when → use):",
		"one hotel is very hot → batched: 6,000 rooms/s here, the fastest.",
		"the rule fits one condition → atomic: 3,000 rooms/s here, 50% of the fastest.",
		"never → naive: overbooked here.",
	}
	if !slices.Equal(got, want) {
		t.Errorf("by situation:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
