package explain

import (
	"strings"
)

// Width is the column the text output keeps within unless asked for wide
// output: a terminal, a pull request, a slide.
const Width = 100

// shortCells names each cell in a word, so that the table fits Width; the
// legend under it spells out the ones used.
var shortCells = map[string]string{
	CellAnomaly:       "ANOMALY",
	CellCaughtByCheck: "CHECK",
	CellAborted:       "40001",
	CellCASConflict:   "CAS",
	CellRechecked:     "rechecked",
	CellBlocked:       "blocked",
	CellRefused:       "refused",
	CellNoConflict:    "both fit",
}

// legend spells out a cell shown short.
func legend(cell string) string {
	if cell == CellAnomaly {
		return "anomaly: the schedule overbooked or lost an update (its final line says which)"
	}
	return cell
}

// shortIsolation names each isolation level in a word.
var shortIsolation = map[string]string{
	"read committed":  "RC",
	"repeatable read": "RR",
	"serializable":    "SER",
}

// headerLines splits a scenario's name at its last hyphen that keeps each
// half short, for a header two lines high.
func headerLines(name string) (string, string) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || len(name) <= 10 {
		return name, ""
	}
	return name[:i+1], name[i+1:]
}
