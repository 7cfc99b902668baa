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
}

// faultLine is a nemesis event in a history.
type faultLine struct {
	Type string `json:"type"` // "fault"
	nemesis.Event
}

// writeHistory writes a run's history as JSON lines, in time order: the
// run line, then every attempt (by invocation) and every fault (by start).
// The format is documented in the README and stable: other tools merge
// the histories of several load generators.
func writeHistory(w io.Writer, strategy string, seed uint64, res client.Result, faults []nemesis.Event) error {
	type line struct {
		at    time.Time
		value any
	}
	lines := make([]line, 0, len(res.History)+len(faults))
	for _, a := range res.History {
		lines = append(lines, line{a.Invoked, a})
	}
	for _, f := range faults {
		lines = append(lines, line{f.Start, faultLine{Type: "fault", Event: f}})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	if err := enc.Encode(runLine{Type: "run", Strategy: strategy, Seed: seed, Started: res.Started}); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	for _, l := range lines {
		if err := enc.Encode(l.value); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}
