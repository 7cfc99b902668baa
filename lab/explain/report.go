package explain

import (
	"context"
	"fmt"
	"slices"

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
// strategies (nil: db.Strategies), each running its own Go code, and the
// check-then-act anti-pattern.
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
