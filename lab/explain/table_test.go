package explain

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/evento-lab/evento/db"
)

// The whole table, every cell measured on a real server: what each
// strategy did with each schedule. A change in a strategy's SQL, in the
// scenarios or in PostgreSQL that changes how an anomaly is stopped fails
// here, cell by cell.
func TestTableCells(t *testing.T) {
	t.Parallel()
	rep, err := Explain(testContext(t), newTarget(t), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	const na = "n/a: the anti-pattern's own SQL: see its rows"
	const notStrategy = "n/a: not a strategy"
	want := map[string][]string{
		//                 lost-update       check-then-act  hold-vs-booking  stale-availability  duplicate-request
		"naive":        {CellAnomaly, na, CellAnomaly, CellRefused, CellBlocked},
		"pessimistic":  {CellBlocked, na, CellBlocked, CellRefused, CellBlocked},
		"atomic":       {CellRechecked, na, CellBlocked, CellRefused, CellBlocked},
		"optimistic":   {CellCASConflict, na, CellCASConflict, CellRefused, CellBlocked},
		"serializable": {CellAborted, na, CellAborted, CellRefused, CellBlocked},
		"advisory":     {CellBlocked, na, CellBlocked, CellRefused, CellBlocked},
		"sharded":      {CellRechecked, na, "n/a: holds take rooms from the hotel's row, and this hotel's are in buckets", CellRefused, CellBlocked},
		"batched":      {CellBlocked, na, CellBlocked, CellRefused, CellBlocked},
		CheckThenActRC: {notStrategy, CellCaughtByCheck, notStrategy, notStrategy, notStrategy},
		CheckThenActRR: {notStrategy, CellAborted, notStrategy, notStrategy, notStrategy},
	}
	if got := ScenarioNames(); !slices.Equal(got, []string{"lost-update", "check-then-act", "hold-vs-booking", "stale-availability", "duplicate-request"}) {
		t.Fatalf("scenarios = %v; the table below is in another order", got)
	}
	if len(rep.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rep.Rows), len(want))
	}
	for _, row := range rep.Rows {
		for i, got := range row.Cells {
			if w := want[row.Subject][i]; got != w {
				t.Errorf("%s × %s = %q, want %q", row.Subject, rep.Scenarios[i].Name, got, w)
			}
		}
	}
	for _, r := range rep.Runs {
		if strings.HasPrefix(r.Cell, cellNotApplicable) {
			continue
		}
		// Only an anomaly leaves the hotel inconsistent.
		if r.Final.OK == (r.Cell == CellAnomaly) {
			t.Errorf("%s × %s: cell %q but final state %q", r.Subject, r.Scenario, r.Cell, r.Final.Verdict)
		}
	}
}

// The table is measured, not written down: a copy of atomic without its
// guard (WHERE … <= assigned - reserved - locked) is caught in the very
// schedule where atomic re-checks. The schema's CHECK stops its second
// write (23514); with the CHECK dropped, it overbooks.
func TestAtomicWithoutItsGuardShowsTheAnomaly(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	guard := regexp.MustCompile(`(?m)^\s*AND \d+::integer <= assigned - reserved - locked\n`)
	atomic, _ := strategyProgram("atomic")
	broken := atomic
	broken.subject = "atomic without its guard"
	broken.write = func(i int, req request) []move {
		moves := atomic.write(i, req)
		book := moves[0].build
		moves[0].build = func(s *sessionState) (planned, bool) {
			p, ok := book(s)
			unguarded := guard.ReplaceAllString(p.stmt.SQL, "")
			if unguarded == p.stmt.SQL {
				t.Fatalf("no guard to remove in %s", p.stmt.SQL)
			}
			p.stmt.SQL = unguarded
			return p, ok
		}
		return moves
	}
	lostUpdate := Scenarios()[0]
	ctx := testContext(t)

	r, err := run(ctx, target, broken, lostUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cell != CellCaughtByCheck {
		t.Fatalf("cell = %q, want %q (final: %s)", r.Cell, CellCaughtByCheck, r.Final.Verdict)
	}
	if _, err := target.Pool.Exec(ctx, "ALTER TABLE event_hotel_rooms DROP CONSTRAINT event_hotel_rooms_within_assigned"); err != nil {
		t.Fatal(err)
	}
	r, err = run(ctx, target, broken, lostUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cell != CellAnomaly || r.Final.Booked != 4 || r.Final.Reserved != 4 {
		t.Fatalf("without the CHECK: cell = %q, final %+v; want an anomaly with 4 of 2 rooms booked", r.Cell, r.Final)
	}
	// The real atomic, on the same database without the CHECK, still
	// holds: its own WHERE is what stops it.
	r, err = run(ctx, target, atomic, lostUpdate)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cell != CellRechecked {
		t.Fatalf("atomic without the CHECK: cell = %q, want %q", r.Cell, CellRechecked)
	}
}

// A strategy added to the registry without a program here would silently
// be missing from the table.
func TestEveryStrategyHasAProgram(t *testing.T) {
	for _, s := range db.Strategies {
		if _, ok := strategyProgram(s.Name); !ok {
			t.Errorf("strategy %s has no program in lab/explain/programs.go", s.Name)
		}
	}
}
