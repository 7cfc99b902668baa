package explain

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
)

// The whole table, every cell measured on a real server: what each
// strategy did with each schedule. A change in a strategy's SQL, in the
// scenarios or in PostgreSQL that changes how an anomaly is stopped fails
// here, cell by cell.
func TestTableCells(t *testing.T) {
	t.Parallel()
	rep, err := Explain(testContext(t), newTarget(t), nil, nil, nil)
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
	for _, row := range rep.Rows {
		cells, ok := want[row.Subject]
		if !ok {
			// A strategy added to db.Strategies is a row at once: say
			// what it did, so that its expectations can be written here.
			t.Errorf("%s is a row of the table but has no expected cells here: it showed %q", row.Subject, row.Cells)
			continue
		}
		for i, got := range row.Cells {
			if w := cells[i]; got != w {
				t.Errorf("%s × %s = %q, want %q", row.Subject, rep.Scenarios[i].Name, got, w)
			}
		}
		delete(want, row.Subject) // what is left of want was never a row
	}
	for subject := range want {
		t.Errorf("%s is expected here but is not a row of the table", subject)
	}
	for _, r := range rep.Runs {
		// Only an anomaly leaves the hotel inconsistent.
		if !strings.HasPrefix(r.Cell, cellNotApplicable) && r.Final.OK == (r.Cell == CellAnomaly) {
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
	guarded, ok := db.LookupStrategy("atomic")
	if !ok {
		t.Fatal("no strategy atomic")
	}
	var removed atomic.Bool
	broken := guarded
	broken.Name = "atomic without its guard"
	broken.Book = func(ctx context.Context, st db.Statements, req evento.BookRequest) (evento.Booking, error) {
		st.Write = unguarded{stepper: st.Write.(*stepper), removed: &removed}
		return guarded.Book(ctx, st, req)
	}
	ctx := testContext(t)
	lostUpdate := func(s db.Strategy) Run {
		t.Helper()
		r, err := run(ctx, target, strategySubject(s), Scenarios()[0])
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	r := lostUpdate(broken)
	if !removed.Load() {
		t.Fatal("atomic sent no statement with a guard to remove")
	}
	if r.Cell != CellCaughtByCheck {
		t.Fatalf("cell = %q, want %q (final: %s)", r.Cell, CellCaughtByCheck, r.Final.Verdict)
	}
	if _, err := target.Pool.Exec(ctx, "ALTER TABLE event_hotel_rooms DROP CONSTRAINT event_hotel_rooms_within_assigned"); err != nil {
		t.Fatal(err)
	}
	if r = lostUpdate(broken); r.Cell != CellAnomaly || r.Final.Booked != 4 || r.Final.Reserved != 4 {
		t.Fatalf("without the CHECK: cell = %q, final %+v; want an anomaly with 4 of 2 rooms booked", r.Cell, r.Final)
	}
	// The real atomic, on the same database without the CHECK, still
	// holds: its own WHERE is what stops it.
	if r = lostUpdate(guarded); r.Cell != CellRechecked {
		t.Fatalf("atomic without the CHECK: cell = %q, want %q", r.Cell, CellRechecked)
	}
}

// unguarded sends atomic's booking without the line of its WHERE that
// checks the rooms still fit.
type unguarded struct {
	*stepper
	removed *atomic.Bool
}

var guard = regexp.MustCompile(`(?m)^\s*AND \$\d+::integer <= assigned - reserved - locked\n`)

func (u unguarded) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if without := guard.ReplaceAllString(sql, ""); without != sql {
		u.removed.Store(true)
		sql = without
	}
	return u.stepper.QueryRow(ctx, sql, args...)
}

// A strategy defined only here, in no file of db, is a row of the table:
// explain takes its rows from the registry it is handed, and runs each
// strategy's own code.
func TestAStrategyDefinedInATestIsARow(t *testing.T) {
	t.Parallel()
	pessimistic, ok := db.LookupStrategy("pessimistic")
	if !ok {
		t.Fatal("no strategy pessimistic")
	}
	mine := pessimistic
	mine.Name = "pessimistic, defined in a test"
	rep, err := Explain(testContext(t), newTarget(t), []db.Strategy{mine}, nil, []string{"lost-update"})
	if err != nil {
		t.Fatal(err)
	}
	if got := Subjects([]db.Strategy{mine}); !slices.Equal(got, []string{mine.Name, CheckThenActRC, CheckThenActRR}) {
		t.Fatalf("subjects = %v", got)
	}
	if len(rep.Rows) != 3 || rep.Rows[0].Subject != mine.Name || rep.Rows[0].Cells[0] != CellBlocked {
		t.Fatalf("rows = %+v; want %s first, %q", rep.Rows, mine.Name, CellBlocked)
	}
}
