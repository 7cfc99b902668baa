package lab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
)

// runLine opens a run's part of a history: the lines after it, up to the
// next run line, are that run's attempts and faults.
type runLine struct {
	Type     string    `json:"type"` // "run"
	Strategy string    `json:"strategy"`
	Seed     uint64    `json:"seed"`
	Started  time.Time `json:"started"`

	// Added for evento check, which merges the histories of several load
	// generators; optional, absent in older histories.

	// Event is the one event the run booked at (evento load; 0 when a run
	// booked at several).
	Event int64 `json:"event,omitempty"`
	// RunID prefixes the run's request ids and keys: two histories with
	// the same one are the same run.
	RunID   string `json:"run_id,omitempty"`
	Clients int    `json:"clients,omitempty"`
	// Completed: every client stopped because its hotel sold out (none
	// gave up, the run was not cut short); GaveUp counts those that did.
	Completed bool  `json:"completed"`
	GaveUp    int64 `json:"gave_up,omitempty"`
	// APIKey: the clients sent an API key, so the servers stored their
	// keys scoped to its client (each attempt's stored_key, when known).
	APIKey bool `json:"api_key,omitempty"`
}

// faultLine is a nemesis event in a history.
type faultLine struct {
	Type string `json:"type"` // "fault"
	nemesis.Event
}

// endLine closes a run's part of a history, written last: the lines its
// part holds, counted as they were written. A file cut at a line boundary
// parses line by line as well as a whole one; only a count written on close
// tells that lines are missing, and a missing ok line would turn its
// booking into someone else's.
type endLine struct {
	Type string `json:"type"` // "end"
	// Lines counts the part's lines before this one, its run line included;
	// Attempts and Faults count those of each type among them.
	Lines    int `json:"lines"`
	Attempts int `json:"attempts"`
	Faults   int `json:"faults"`
}

// writeHistory writes a run's history as JSON lines, in time order: the
// run line, then every attempt (by invocation) and every fault (by start),
// then an end line that counts them.
// The format is documented in the README and stable: other tools merge
// the histories of several load generators.
func writeHistory(w io.Writer, run runLine, res client.Result, faults []nemesis.Event) error {
	type line struct {
		at    time.Time
		value any
	}
	run.Type, run.Started, run.RunID = "run", res.Started, res.RunID
	run.Completed, run.GaveUp = res.Completed, res.GaveUp
	lines := make([]line, 1, 1+len(res.History)+len(faults))
	lines[0].value = run
	for _, a := range res.History {
		lines = append(lines, line{a.Invoked, a})
	}
	for _, f := range faults {
		lines = append(lines, line{f.Start, faultLine{Type: "fault", Event: f}})
	}
	// By the wall clock the file records: the monotonic readings that
	// Compare would use otherwise can order two close lines the other way.
	slices.SortStableFunc(lines[1:], func(a, b line) int { return a.at.Round(0).Compare(b.at.Round(0)) })
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	for _, l := range lines {
		if err := enc.Encode(l.value); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
	}
	end := endLine{Type: "end", Lines: len(lines), Attempts: len(res.History), Faults: len(faults)}
	if err := enc.Encode(end); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}
