package explain

import (
	"strings"
	"unicode/utf8"
)

// Width is the column the text output keeps within unless asked for wide
// output: a terminal, a pull request, a slide.
const Width = 100

// wrap lays text out after first in lines of at most width columns,
// broken at spaces, every line after the first starting with indent. A
// word longer than a line stays whole: SQL is never broken inside a token.
func wrap(first, indent, text string, width int) string {
	var b strings.Builder
	b.WriteString(first)
	line := utf8.RuneCountInString(first)
	for i, word := range strings.Fields(text) {
		n := utf8.RuneCountInString(word)
		switch {
		case i == 0:
		case line+1+n > width:
			b.WriteString("\n" + indent)
			line = utf8.RuneCountInString(indent)
		default:
			b.WriteByte(' ')
			line++
		}
		b.WriteString(word)
		line += n
	}
	return b.String()
}

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
