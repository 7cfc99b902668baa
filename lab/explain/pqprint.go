package explain

import (
	"fmt"
	"strings"
)

// pqPrint renders rows as isolationtester prints them: libpq's PQprint
// with header, align and "|" between fields (src/interfaces/libpq/
// fe-print.c). A column is numeric, and right-aligned, when every
// non-empty value is made of digits, '.', 'e', 'E', ' ' and '-', starts
// with no 'e' and ends with a digit; widths count bytes, as C does.
func pqPrint(columns []string, rows [][]*string) string {
	width := make([]int, len(columns))
	numeric := make([]bool, len(columns))
	for j, c := range columns {
		width[j] = len(c)
		numeric[j] = true
	}
	for _, row := range rows {
		for j, v := range row {
			if v == nil || *v == "" {
				continue // PQprint skips empty values: they decide nothing
			}
			width[j] = max(width[j], len(*v))
			if numeric[j] && !looksNumeric(*v) {
				numeric[j] = false
			}
		}
	}
	var b strings.Builder
	pad := func(s string, j int) string {
		if numeric[j] {
			return fmt.Sprintf("%*s", width[j], s)
		}
		return fmt.Sprintf("%-*s", width[j], s)
	}
	cells := make([]string, len(columns))
	for j, c := range columns {
		cells[j] = pad(c, j)
	}
	b.WriteString(strings.Join(cells, "|") + "\n")
	for j := range columns {
		cells[j] = strings.Repeat("-", width[j])
	}
	b.WriteString(strings.Join(cells, "+") + "\n")
	for _, row := range rows {
		for j, v := range row {
			s := ""
			if v != nil {
				s = *v
			}
			cells[j] = pad(s, j)
		}
		b.WriteString(strings.Join(cells, "|") + "\n")
	}
	return b.String() + "(" + rowCount(len(rows)) + ")\n\n"
}

// rowCount is "1 row" or "n rows".
func rowCount(n int) string {
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d rows", n)
}

func looksNumeric(v string) bool {
	last := byte('0')
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == 'E' || c == 'e' || c == ' ' || c == '-') {
			return false
		}
		last = c
	}
	return v[0] != 'E' && v[0] != 'e' && last >= '0' && last <= '9'
}
