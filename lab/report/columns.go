package report

import (
	"fmt"
	"html/template"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// column is one column of the comparison, declared once for the text
// table, the CSV and the page, so that a new column is one entry in
// comparisonColumns and no layout can miss it.
type column struct {
	// name is the JSON key of the field shown (the row's, else the
	// machine's) and its CSV header, so a spreadsheet and report.json name
	// a number alike; "" leaves the column out of the CSV.
	name string
	// head heads the column in both tables (pageHead instead on the page,
	// when set); without one it is in neither.
	head, pageHead string
	pageAttrs      template.HTMLAttr // the page's <th>'s (pageCell.Attrs)
	wide           bool              // the text table shows it only with --wide: the default fits 100 columns
	pageOnly       bool              // the text table leaves it out: its rows are already in that order
	rounds         bool              // the tables show it only with several rounds: one round has no spread
	// decimals are a fraction's in the tables, csvDecimals in the CSV; a
	// nil pointer (no sell-out, no ratio) is "-", or an empty CSV cell.
	decimals, csvDecimals int
	// The cells that are not the field as it is: tableCell in both tables
	// unless pageCell, csvCell in the CSV.
	tableCell func(ComparisonRow) string
	pageCell  func(ComparisonRow) pageCell
	csvCell   func(ComparisonRow) string
}

// comparisonColumns are the comparison's columns in the order every
// layout shows them. Spreadsheets key on the CSV's header, so a named
// column is only ever added after the last named one.
func comparisonColumns(rounds int) []column {
	roomsTitle := "rooms correctly sold (never more than a hotel has) per second until sell-out"
	if rounds > 1 {
		roomsTitle += fmt.Sprintf("; median of %d rounds", rounds)
	}
	return []column{
		{name: "round", csvCell: func(r ComparisonRow) string {
			if r.Round == 0 {
				return "median" // a strategy's line: the median of its runs
			}
			return strconv.Itoa(r.Round)
		}},
		{name: "strategy", head: "strategy", pageCell: func(r ComparisonRow) pageCell { return pageCell{Attrs: ` class="strategy"`, Text: r.Strategy} }},
		{name: "verdict", head: "verdict", pageAttrs: ` class="verdict"`, pageCell: func(r ComparisonRow) pageCell {
			return pageCell{Attrs: ` class="verdict"`, Span: verdictClass(r.Verdict), Text: r.Verdict}
		}},
		{name: "rank", head: "rank", pageOnly: true, pageAttrs: ` title="by rooms correctly sold per second; a strategy that is not safe is not ranked"`,
			tableCell: func(r ComparisonRow) string {
				if r.Rank == 0 {
					return "-"
				}
				return strconv.Itoa(r.Rank)
			}},
		{name: "rooms_sold"},
		{name: "rooms_per_second", head: "rooms/s", pageAttrs: template.HTMLAttr(` title="` + roomsTitle + `"`), csvDecimals: 2},
		{head: "min-max", pageHead: "min–max", pageAttrs: ` title="the rounds' lowest and highest rooms/s"`, rounds: true,
			tableCell: func(r ComparisonRow) string {
				return fmt.Sprintf("%.0f-%.0f", r.RoomsPerSecondMin, r.RoomsPerSecondMax)
			},
			pageCell: func(r ComparisonRow) pageCell {
				return pageCell{Text: formatNumber(r.RoomsPerSecondMin, 0) + "–" + formatNumber(r.RoomsPerSecondMax, 0)}
			}},
		{name: "rooms_per_second_min", csvDecimals: 2},
		{name: "rooms_per_second_max", csvDecimals: 2},
		{name: "sellout_seconds", head: "sell-out s", pageAttrs: ` class="nowrap"`, decimals: 2, csvDecimals: 3},
		{name: "reservations_per_second", head: "reservations/s", wide: true, csvDecimals: 2},
		{name: "p50_ms", head: "p50 ms", wide: true, decimals: 1, csvDecimals: 2},
		{name: "p99_ms", head: "p99 ms", decimals: 1, csvDecimals: 2},
		{name: "p99_ms_min", csvDecimals: 2},
		{name: "p99_ms_max", csvDecimals: 2},
		{name: "conflicts", head: "conflicts"},
		{name: "retries", head: "retries", pageAttrs: ` title="client retries (conflicts, resends)"`},
		{name: "server_retries", head: "server retries", wide: true, pageAttrs: ` title="transactions rerun inside the servers"`},
		{name: "mean_batch_size", head: "mean batch", wide: true, pageAttrs: ` title="requests per batched transaction"`, csvDecimals: 2,
			tableCell: func(r ComparisonRow) string { return formatMeanBatch(r.MeanBatchSize) }},
		{name: "errors", head: "errors", wide: true},
		{name: "ratio_to_fastest_safe", head: "vs fastest", pageHead: "vs fastest safe", csvDecimals: 4, tableCell: ratioText, pageCell: ratioCell},
		{name: "commit"}, {name: "cpus"}, {name: "postgresql"},
	}
}

// text is the column's cell in a table, its numbers written by number:
// fixed in the text table, formatNumber on the page.
func (col column) text(r ComparisonRow, m Machine, number func(float64, int) string) string {
	if col.tableCell != nil {
		return col.tableCell(r)
	}
	return col.format(r, m, "-", col.decimals, number)
}

func (col column) page(r ComparisonRow, m Machine) pageCell {
	if col.pageCell != nil {
		return col.pageCell(r)
	}
	return pageCell{Text: col.text(r, m, formatNumber)}
}

// csv leaves a number that is not finite empty, as one that does not exist.
func (col column) csv(r ComparisonRow, m Machine) string {
	if col.csvCell != nil {
		return col.csvCell(r)
	}
	return col.format(r, m, "", col.csvDecimals, func(v float64, d int) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return fixed(v, d)
	})
}

func fixed(v float64, decimals int) string { return fmt.Sprintf("%.*f", decimals, v) }

// format writes the field the column names: a string as it is, a number
// by number, and none for a nil pointer.
func (col column) format(r ComparisonRow, m Machine, none string, decimals int, number func(float64, int) string) string {
	v := col.field(r, m)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return none
		}
		v = v.Elem()
	}
	switch {
	case v.Kind() == reflect.String:
		return v.String()
	case v.CanInt():
		return number(float64(v.Int()), 0)
	case v.CanFloat():
		return number(v.Float(), decimals)
	}
	return fmt.Sprint(v.Interface())
}

// field is the row's field, or else the machine's, whose JSON key is the
// column's name.
func (col column) field(r ComparisonRow, m Machine) reflect.Value {
	for _, s := range []reflect.Value{reflect.ValueOf(r), reflect.ValueOf(m)} {
		for i := range s.NumField() {
			if key, _, _ := strings.Cut(s.Type().Field(i).Tag.Get("json"), ","); key == col.name {
				return s.Field(i)
			}
		}
	}
	panic("report: column " + col.name + " names no field of ComparisonRow or Machine")
}

// pageCell is one cell of the page's table. Its Attrs go into the tag
// unescaped: they are ours, never data, and escaping would change them.
type pageCell struct {
	Attrs template.HTMLAttr
	Text  string
	// Span, when set, draws Text in a <span> of that class (a verdict's
	// colour, a badge) with Title as its tooltip.
	Span, Title string
}

// ratioCell is the page's "vs fastest safe": a badge for the fastest, the
// ratio as a multiple for the others, and an unranked strategy's reason in
// grey.
func ratioCell(r ComparisonRow) pageCell {
	if r.FastestSafe {
		return pageCell{Span: "badge", Title: "the fastest strategy whose verdict is consistent: 1.00×", Text: "fastest"}
	}
	c := pageCell{Text: ratioText(r)}
	if r.RatioToFastestSafe != nil {
		c.Text = formatNumber(*r.RatioToFastestSafe, 2) + "×"
	}
	if r.Rank == 0 {
		c.Attrs = ` class="unranked"`
	}
	return c
}
