package report

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/evento-lab/evento/lab/checker"
)

//go:embed comparison.html.tmpl
var comparisonHTML string

var comparisonTemplate = template.Must(template.New("comparison").Parse(comparisonHTML))

// WriteHTML writes the comparison as one self-contained page: the table,
// a throughput chart, a latency chart and every strategy's anomalies. The
// charts are SVG drawn here, so the page loads nothing (its Content
// Security Policy forbids it) and opens from a file or an attachment.
func (c Comparison) WriteHTML(w io.Writer) error {
	var b strings.Builder
	if err := comparisonTemplate.Execute(&b, newComparisonPage(c)); err != nil {
		return fmt.Errorf("render comparison: %w", err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// comparisonPage is what the template draws: every number already
// formatted and every bar already placed, so the template only lays out.
type comparisonPage struct {
	Workload, Machine   string
	Rounds              int
	Recommendation      []string
	Columns             []pageCell
	Rows                []pageRow
	Throughput, Latency barChart
	Timelines           []timelineChart // throughput over time, each strategy's first run
	UnderFaults         bool            // some run met faults: the timelines shade them
	Anomalies           []pageAnomalies // strategies with anomalies or notes
	Clean               []string        // and those with neither
	SQL                 []pageSQL       // each strategy's statements
	Bars                int             // bar elements in the charts
}

type pageRow struct {
	FastestSafe bool
	Cells       []pageCell
}

type pageSQL struct{ Strategy, File, Text string }

type pageAnomalies struct {
	Strategy, Verdict, VerdictClass string
	Anomalies, Notes                []string
}

// barChart is a horizontal bar chart: one group per strategy, one or more
// bars per group, on a shared linear axis starting at zero.
type barChart struct {
	ID                            string
	Width, Height, Left, Right    float64 // the plot spans x in [Left, Right]
	Top, AxisY                    float64 // and y in [Top, AxisY]
	LabelX, TickY, Middle, TitleY float64
	AxisTitle                     string
	Groups                        []barGroup
	Ticks                         []tick
	axisMax                       float64
}

type barGroup struct {
	Label      string
	LabelY     float64
	Bars       []bar
	Whiskers   []whisker // the spread over the rounds
	Unranked   string    // instead of a bar: why the strategy is not ranked
	UnrankedX  float64
	Separator  bool // a faint line under the group
	SeparatorY float64
}

type bar struct {
	Class, Title   string // Title: the tooltip
	X, Y, W, H     float64
	Value          string
	ValueX, ValueY float64
}

// whisker is a min-max line across a bar's end, with end caps.
type whisker struct{ X1, X2, Y, CapTop, CapBottom float64 }

// tick is a label on an axis: at X on a horizontal one, at Y on a
// vertical one.
type tick struct {
	X, Y  float64
	Label string
}

const (
	// chartWidth is the SVG's own width; the page scales it to fit. At
	// 400 a phone-width window (420 px, 12 px margins) draws it at about
	// its own size, so 11-13 px labels stay 11-13 px.
	chartWidth  = 400.0
	chartTop    = 6.0
	valueMargin = 84.0 // room right of the longest bar for its label
	axisHeight  = 40.0 // tick labels and the axis title
)

func newComparisonPage(c Comparison) comparisonPage {
	p := comparisonPage{
		Workload:       strings.Replace(c.workloadLine(), " x ", " × ", 1),
		Machine:        c.machineLine(),
		Rounds:         max(c.Workload.Rounds, 1),
		Recommendation: c.Recommendation,
	}
	cols := c.columns(func(col column) bool { return col.head != "" })
	for _, col := range cols {
		p.Columns = append(p.Columns, pageCell{Attrs: col.pageAttrs, Text: cmp.Or(col.pageHead, col.head)})
	}
	for _, r := range c.Rows {
		row := pageRow{FastestSafe: r.FastestSafe}
		for _, col := range cols {
			row.Cells = append(row.Cells, col.page(r, c.Machine))
		}
		p.Rows = append(p.Rows, row)
		if text, ok := c.SQL[r.Strategy]; ok {
			p.SQL = append(p.SQL, pageSQL{Strategy: r.Strategy, File: r.SQLFile, Text: text})
		}
	}
	p.Throughput = throughputChart(c.Rows, p.Rounds > 1)
	p.Latency = latencyChart(c.Rows)
	for _, ch := range []barChart{p.Throughput, p.Latency} {
		for _, g := range ch.Groups {
			p.Bars += len(g.Bars)
		}
	}
	p.Timelines = timelineCharts(c.Reports)
	p.UnderFaults = slices.ContainsFunc(c.Reports, func(r Report) bool { return len(r.Faults) > 0 })
	for _, ch := range p.Timelines {
		p.Bars += len(ch.Columns)
	}
	dirty := func(r Report) bool { return len(r.Anomalies) > 0 || len(r.Notes) > 0 }
	for i, r := range c.Reports {
		if !dirty(r) {
			if !slices.Contains(p.Clean, r.Strategy) {
				p.Clean = append(p.Clean, r.Strategy)
			}
			continue
		}
		name := r.Strategy
		if p.Rounds > 1 && i < len(c.Runs) {
			name += fmt.Sprintf(", round %d", c.Runs[i].Round)
		}
		p.Anomalies = append(p.Anomalies, pageAnomalies{
			Strategy: name, Verdict: r.Verdict, VerdictClass: verdictClass(r.Verdict),
			Anomalies: r.Anomalies, Notes: r.Notes,
		})
	}
	// A strategy clean in one round but not in another is not clean.
	p.Clean = slices.DeleteFunc(p.Clean, func(s string) bool {
		return slices.ContainsFunc(c.Reports, func(r Report) bool { return r.Strategy == s && dirty(r) })
	})
	return p
}

// throughputChart ranks the safe strategies by rooms correctly sold per
// second, fastest on top, with the rounds' spread as a whisker. A
// strategy that is not safe gets no bar: a bar's length invites
// comparison, and rooms that do not exist are not a speed. Its row says
// why instead.
func throughputChart(rows []ComparisonRow, spread bool) barChart {
	const rowHeight, barHeight = 28.0, 18.0
	var values []float64
	for _, r := range rows {
		if r.Safe() {
			values = append(values, r.RoomsPerSecond)
			if spread {
				values = append(values, r.RoomsPerSecondMax)
			}
		}
	}
	ch := newBarChart("throughput-chart", rows, rowHeight, "rooms correctly sold per second, until sell-out", values)
	for i, r := range rows {
		top := chartTop + float64(i)*rowHeight
		g := barGroup{Label: r.Strategy, LabelY: top + rowHeight/2}
		if !r.Safe() {
			g.Unranked, g.UnrankedX = r.Verdict+": not ranked", ch.Left+8
			ch.Groups = append(ch.Groups, g)
			continue
		}
		y := top + (rowHeight-barHeight)/2
		b := ch.bar(r.RoomsPerSecond, y, barHeight)
		b.Class = "bar throughput " + verdictClass(r.Verdict)
		b.Value = formatNumber(r.RoomsPerSecond, 0) + "/s"
		b.Title = fmt.Sprintf("%s: %s rooms/s correctly sold (%s)", r.Strategy, formatNumber(r.RoomsPerSecond, 1), r.Verdict)
		if spread {
			lo := ch.Left + (ch.Right-ch.Left)*fraction(r.RoomsPerSecondMin, ch.axisMax)
			hi := ch.Left + (ch.Right-ch.Left)*fraction(r.RoomsPerSecondMax, ch.axisMax)
			mid := round1(y + barHeight/2)
			g.Whiskers = []whisker{{X1: round1(lo), X2: round1(hi), Y: mid, CapTop: mid - 5, CapBottom: mid + 5}}
			b.ValueX = round1(max(b.ValueX, hi+6))
			b.Title += fmt.Sprintf(", rounds from %s to %s", formatNumber(r.RoomsPerSecondMin, 1), formatNumber(r.RoomsPerSecondMax, 1))
		}
		if r.FastestSafe {
			b.Value += " ★"
			b.Title += ", the fastest safe strategy"
		}
		g.Bars = []bar{b}
		if i < len(rows)-1 && !rows[i+1].Safe() {
			// The line between the ranked and the unranked.
			g.Separator, g.SeparatorY = true, top+rowHeight
		}
		ch.Groups = append(ch.Groups, g)
	}
	return ch
}

func latencyChart(rows []ComparisonRow) barChart {
	const rowHeight, barHeight, gap = 38.0, 14.0, 2.0
	var values []float64
	for _, r := range rows {
		values = append(values, r.P50Ms, r.P99Ms)
	}
	ch := newBarChart("latency-chart", rows, rowHeight, "reserve latency (ms)", values)
	for i, r := range rows {
		top := chartTop + float64(i)*rowHeight
		y := top + (rowHeight-2*barHeight-gap)/2
		g := barGroup{Label: r.Strategy, LabelY: top + rowHeight/2}
		for j, s := range []struct {
			name  string
			value float64
		}{{"p50", r.P50Ms}, {"p99", r.P99Ms}} {
			b := ch.bar(s.value, y+float64(j)*(barHeight+gap), barHeight)
			b.Class = "bar latency " + s.name
			b.Value = formatNumber(s.value, 1) + " ms"
			b.Title = fmt.Sprintf("%s: %s %s ms", r.Strategy, s.name, formatNumber(s.value, 2))
			g.Bars = append(g.Bars, b)
		}
		if i < len(rows)-1 {
			g.Separator, g.SeparatorY = true, top+rowHeight
		}
		ch.Groups = append(ch.Groups, g)
	}
	return ch
}

// newBarChart sizes a chart for its rows and their labels, the
// strategies, and puts ticks on an axis from zero to a round number at or
// above the largest value.
func newBarChart(id string, rows []ComparisonRow, rowHeight float64, axisTitle string, values []float64) barChart {
	longest := 0
	for _, r := range rows {
		longest = max(longest, utf8.RuneCountInString(r.Strategy))
	}
	// About 7.5 px a character at the labels' 13 px; long names are cut by
	// the SVG's width, not allowed to squeeze the plot to nothing.
	left := min(max(7.5*float64(longest)+16, 80), 200)
	plotBottom := chartTop + float64(len(rows))*rowHeight
	ch := barChart{
		ID: id, Width: chartWidth, Height: plotBottom + axisHeight,
		Left: left, Right: chartWidth - valueMargin, Top: chartTop, AxisY: plotBottom,
		LabelX: left - 10, TickY: plotBottom + 16,
		Middle: round1((left + chartWidth - valueMargin) / 2), TitleY: plotBottom + 34,
		AxisTitle: axisTitle,
	}
	// At most 5 parts: at 400 wide, 6 or more labels like "5,000" touch.
	top, step := axisScale(values, 5)
	ch.axisMax = top
	for i := 0; float64(i)*step <= top+step/2; i++ {
		v := float64(i) * step
		ch.Ticks = append(ch.Ticks, tick{X: round1(ch.Left + (ch.Right-ch.Left)*fraction(v, top)), Label: formatTick(v, step)})
	}
	return ch
}

func (ch barChart) bar(v, y, h float64) bar {
	w := round1((ch.Right - ch.Left) * fraction(v, ch.axisMax))
	return bar{X: ch.Left, Y: round1(y), W: w, H: h, ValueX: round1(ch.Left + w + 6), ValueY: round1(y + h/2)}
}

// fraction is v/top clamped to [0, 1]; 0 for anything not a positive
// finite number, so a zero, NaN or infinite value draws no bar.
func fraction(v, top float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) || !(top > 0) || math.IsInf(top, 0) {
		return 0
	}
	return min(v/top, 1)
}

// axisScale returns the axis's end, a round number at or above the
// largest finite value, and a tick step dividing it into at most
// maxParts parts (and about half as many at least).
func axisScale(values []float64, maxParts float64) (top, step float64) {
	largest := 0.0
	for _, v := range values {
		if v > largest && !math.IsInf(v, 0) {
			largest = v
		}
	}
	if !(largest > 0) {
		return 1, 0.25
	}
	magnitude := math.Pow(10, math.Floor(math.Log10(largest)))
	for _, m := range []float64{0.1, 0.2, 0.25, 0.5, 1, 2, 2.5, 5, 10} {
		step = m * magnitude
		if largest/step <= maxParts {
			break
		}
	}
	return math.Ceil(largest/step-1e-9) * step, step
}

func formatTick(v, step float64) string {
	decimals := 0
	for s := step; s < 1 && decimals < 6; s *= 10 {
		decimals++
	}
	if step*math.Pow(10, float64(decimals)) != math.Round(step*math.Pow(10, float64(decimals))) {
		decimals++ // 0.25, 2.5
	}
	return formatNumber(v, decimals)
}

// formatNumber prints v with the given decimals and thousands separated
// by commas; "-" when v is not a finite number.
func formatNumber(v float64, decimals int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	s := fmt.Sprintf("%.*f", decimals, v)
	// Commas from the whole part's end leftwards, never after the sign.
	for i := strings.IndexByte(s+".", '.') - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func formatInt(n int64) string { return formatNumber(float64(n), 0) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// verdictClass is the CSS class colouring a verdict; an unknown verdict
// gets a neutral one rather than a class made from untrusted text.
func verdictClass(v string) string {
	if slices.Contains(checker.Verdicts(), v) {
		return "v-" + v
	}
	return "v-other"
}

func formatMeanBatch(mean float64) string {
	if mean <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", mean)
}
