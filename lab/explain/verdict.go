package explain

import (
	"fmt"
	"strings"

	"github.com/jackc/pgerrcode"
)

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
			if s.role == roleWrite && s.Error == nil && len(s.Rows) == 0 {
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
