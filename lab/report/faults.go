package report

import (
	"time"

	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
)

// FaultWindow is what the clients met from one fault's start until the next
// fault (or the end of the run): their attempts by class, how many were
// errors (no answer, a 5xx, never sent), and how long after the heal the
// last of those errors came back: the time to recover.
type FaultWindow struct {
	Fault           string  `json:"fault"`
	StartSeconds    float64 `json:"start_seconds"` // into the run
	HealSeconds     float64 `json:"heal_seconds"`  // how long the fault lasted
	OK              int     `json:"ok"`
	Fail            int     `json:"fail"`
	Info            int     `json:"info"`
	Errors          int     `json:"errors"`
	RecoverySeconds float64 `json:"recovery_seconds"` // after the heal until the last error; 0 = none after it
}

// faultWindows splits the attempts of a run by the faults it met.
func faultWindows(started time.Time, faults []nemesis.Event, attempts []client.Attempt) []FaultWindow {
	windows := make([]FaultWindow, len(faults))
	for i, f := range faults {
		w := &windows[i]
		w.Fault = f.Fault
		w.StartSeconds = f.Start.Sub(started).Seconds()
		w.HealSeconds = f.Heal.Sub(f.Start).Seconds()
		var end time.Time
		if i+1 < len(faults) {
			end = faults[i+1].Start
		}
		for _, a := range attempts {
			if a.Invoked.Before(f.Start) || (!end.IsZero() && !a.Invoked.Before(end)) {
				continue
			}
			switch a.Class {
			case client.ClassOK:
				w.OK++
			case client.ClassFail:
				w.Fail++
			case client.ClassInfo:
				w.Info++
			}
			if a.IsError() {
				w.Errors++
				w.RecoverySeconds = max(w.RecoverySeconds, a.Completed.Sub(f.Heal).Seconds())
			}
		}
	}
	return windows
}
