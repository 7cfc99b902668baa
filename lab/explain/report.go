package explain

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db"
)

// Probes is said with every result: a run shows what this server did on
// this schedule, which a different schedule, version or setting may not.
const Probes = "these are probes of one schedule each on this server, not proofs"

// Report is the strategy × scenario table and every run behind it.
type Report struct {
	Server    string     `json:"server_version"`
	Note      string     `json:"note"`
	Scenarios []Scenario `json:"scenarios"`
	Rows      []Row      `json:"table"`
	Runs      []Run      `json:"runs"`
}

// Row is one subject's cells, one per scenario, in the scenarios' order.
type Row struct {
	Subject   string   `json:"strategy"`
	Isolation string   `json:"isolation"`
	Cells     []string `json:"cells"`
}

// Explain runs every subject of subjects in every scenario of scenarios
// (nil: all of them) on t, one run at a time. The subjects are the
// strategies (nil: db.Strategies) and the check-then-act anti-pattern.
func Explain(ctx context.Context, t Target, strategies []db.Strategy, subjects, scenarios []string) (Report, error) {
	if subjects == nil {
		subjects = Subjects(strategies)
	}
	if scenarios == nil {
		scenarios = ScenarioNames()
	}
	rep := Report{Note: Probes}
	if err := t.Pool.QueryRow(ctx, "SHOW server_version").Scan(&rep.Server); err != nil {
		return Report{}, fmt.Errorf("ask the server's version: %w", err)
	}
	for _, sc := range Scenarios() {
		if slices.Contains(scenarios, sc.Name) {
			rep.Scenarios = append(rep.Scenarios, sc)
		}
	}
	all := subjectsOf(strategies)
	for _, name := range subjects {
		i := slices.IndexFunc(all, func(p subject) bool { return p.name == name })
		if i < 0 {
			return Report{}, fmt.Errorf("no strategy or anti-pattern named %q", name)
		}
		p := all[i]
		row := Row{Subject: name, Isolation: p.isolation}
		for _, sc := range rep.Scenarios {
			r, err := run(ctx, t, p, sc)
			if err != nil {
				return Report{}, err
			}
			row.Cells = append(row.Cells, r.Cell)
			rep.Runs = append(rep.Runs, r)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

// Run is one subject in one scenario.
type Run struct {
	Subject   string `json:"strategy"`
	Scenario  string `json:"scenario"`
	Isolation string `json:"isolation"`
	Cell      string `json:"cell"`
	// Setup is the SQL that made the tiny hotel (a spec's setup block).
	Setup    []string          `json:"setup"`
	Steps    []Step            `json:"steps"`
	Events   []Event           `json:"events"`
	Outcomes map[string]string `json:"outcomes"` // per session
	Final    Final             `json:"final"`
}

// Permutation is the order the steps ran in: the spec's permutation line.
func (r Run) Permutation() []string {
	names := make([]string, len(r.Steps))
	for i, s := range r.Steps {
		names[i] = s.Name
	}
	return names
}

// Target is where runs happen: a database explain may empty before every
// run (it truncates every table a run touches), never one holding data anyone wants.
type Target struct {
	Pool *pgxpool.Pool // on that database, migrated
	URL  string        // the same database, for the sessions' own connections
}

// Subjects lists the table's rows: every strategy (nil: db.Strategies),
// then the anti-pattern.
func Subjects(strategies []db.Strategy) []string {
	var out []string
	for _, p := range subjectsOf(strategies) {
		out = append(out, p.name)
	}
	return out
}

// ScenarioNames lists the table's columns.
func ScenarioNames() []string {
	var out []string
	for _, s := range Scenarios() {
		out = append(out, s.Name)
	}
	return out
}

func run(ctx context.Context, t Target, p subject, sc Scenario) (Run, error) {
	r := Run{Subject: p.name, Scenario: sc.Name, Isolation: p.isolation}
	if why := sc.applies(p); why != "" {
		r.Cell = notApplicableColon + why
		return r, nil
	}
	setup, err := reset(ctx, t.Pool, sc, p.buckets)
	if err != nil {
		return Run{}, err
	}
	r.Setup = setup
	// The sessions' code runs on goroutines of their own, which end with the run.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &driver{monitor: t.Pool, subject: p, names: map[string]int{}}
	for _, name := range []string{"s1", "s2"} {
		c, err := dial(ctx, t.URL)
		if err != nil {
			return Run{}, err
		}
		defer c.pg.Close(context.Background())
		d.states = append(d.states, &sessionState{name: name, conn: c, lastStep: -1})
	}
	if err := d.run(ctx, sc.moves(p)); err != nil {
		return Run{}, fmt.Errorf("%s, %s: %w", p.name, sc.Name, err)
	}
	r.Steps, r.Events = d.steps, d.events
	r.Outcomes = map[string]string{}
	for _, s := range d.states {
		r.Outcomes[s.name] = s.outcome
	}
	if r.Final, err = readFinal(ctx, t.Pool); err != nil {
		return Run{}, err
	}
	r.Cell = cell(r.Final, d.steps, d.states)
	return r, nil
}

// readFinal reads the hotel with queries/report.sql's HotelTotals.
func readFinal(ctx context.Context, pool *pgxpool.Pool) (Final, error) {
	// Query's error, if any, is also rows', which CollectExactlyOneRow returns.
	rows, _ := pool.Query(ctx, mustNamed("HotelTotals", map[string]any{"event_ids": []int64{eventID}}).SQL)
	f, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (f Final, err error) {
		return f, row.Scan(nil, nil, nil, &f.Assigned, &f.Reserved, &f.Locked, &f.Booked)
	})
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, pgx.ErrTooManyRows) {
		err = fmt.Errorf("no row for hotel %d", hotelID)
	}
	if err != nil {
		return Final{}, fmt.Errorf("read the final state: %w", err)
	}
	return judge(f), nil
}

// Final is the hotel as the run left it, read with queries/report.sql's
// HotelTotals: what `evento run` judges too.
type Final struct {
	Assigned int32  `json:"assigned"`
	Reserved int32  `json:"reserved"` // the counter
	Locked   int32  `json:"locked"`
	Booked   int32  `json:"booked"` // the sum of the reservation rows
	Verdict  string `json:"verdict"`
	OK       bool   `json:"consistent"`
}

func judge(f Final) Final {
	var wrong []string
	if f.Booked+f.Locked > f.Assigned {
		wrong = append(wrong, fmt.Sprintf("OVERBOOKED: %d rooms booked and %d held of %d assigned", f.Booked, f.Locked, f.Assigned))
	}
	if f.Reserved != f.Booked {
		wrong = append(wrong, fmt.Sprintf("LOST UPDATE: the counter says %d but the rows book %d", f.Reserved, f.Booked))
	}
	f.OK, f.Verdict = len(wrong) == 0, strings.Join(wrong, "; ")
	if f.OK {
		f.Verdict = fmt.Sprintf("consistent: counter %d = rows %d, %d held, within %d assigned", f.Reserved, f.Booked, f.Locked, f.Assigned)
	}
	return f
}

// The table's cells: how a run ended, from what it saw.
const (
	CellAnomaly        = "anomaly"
	CellCaughtByCheck  = "anomaly: only the CHECK stopped it (23514)"
	CellAborted        = "prevented: aborted 40001"
	CellCASConflict    = "detected: CAS conflict"
	CellRechecked      = "prevented: re-checked after wait"
	CellBlocked        = "prevented: blocked"
	CellRefused        = "refused: no rooms"
	CellNoConflict     = "no conflict: both fit"
	cellNotApplicable  = "n/a"
	notApplicableColon = cellNotApplicable + ": "
)

// cell says how the run ended, from its final state and its steps: first
// what went wrong, then the strongest mechanism that stopped it.
func cell(final Final, steps []Step, states []*sessionState) string {
	if !final.OK {
		return CellAnomaly
	}
	seen := map[string]bool{}
	for _, s := range steps {
		if s.Error != nil {
			switch s.Error.SQLState {
			case pgerrcode.CheckViolation:
				seen[CellCaughtByCheck] = true
			case pgerrcode.SerializationFailure:
				seen[CellAborted] = true
			}
		}
		if s.Blocked {
			seen[CellBlocked] = true
			// A write that waited, then matched no row: its WHERE was
			// evaluated again on the row the other session committed.
			if s.write && s.Error == nil && len(s.Rows) == 0 {
				seen[CellRechecked] = true
			}
		}
	}
	for _, st := range states {
		switch st.outcome {
		case "conflict":
			seen[CellCASConflict] = true
		case "refused":
			seen[CellRefused] = true
		}
	}
	for _, c := range []string{CellCaughtByCheck, CellAborted, CellCASConflict, CellRechecked, CellBlocked, CellRefused} {
		if seen[c] {
			return c
		}
	}
	return CellNoConflict
}
