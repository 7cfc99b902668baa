package report

import (
	"fmt"
	"slices"
	"time"
)

// timelineChart is one strategy's throughput over time: a column per
// second of acknowledged bookings, with every fault's window shaded and
// numbered, the numbers explained in Faults under the chart. Every
// strategy's chart shares both axes, so the pages' curves compare at a
// glance.
type timelineChart struct {
	ID, Strategy, Verdict, VerdictClass string
	Width, Height, Left, Right          float64 // the plot spans x in [Left, Right]
	Top, AxisY, PlotHeight              float64 // and y in [Top, AxisY]
	TickY, TitleY, Middle, LabelX       float64
	Columns                             []bar
	Shades                              []shade
	XTicks                              []tick
	YTicks                              []tick
	Faults                              []string
}

// shade is a fault's window on a timeline: from its start to its heal,
// at least a sliver wide for a fault that is over at once.
type shade struct {
	X, W, LabelX float64
	Number       int
	Title        string
}

const (
	timelineHeight = 150.0
	timelineLeft   = 48.0
	timelineRight  = chartWidth - 12
	shadeMinWidth  = 3.0
)

// timelineCharts draws each strategy's first run second by second (with
// --rounds, the later rounds would repeat the picture).
func timelineCharts(reports []Report) []timelineChart {
	var firsts []Report
	for _, r := range reports {
		if !slices.ContainsFunc(firsts, func(f Report) bool { return f.Strategy == r.Strategy }) {
			firsts = append(firsts, r)
		}
	}
	seconds, peak := 0, 0
	for _, r := range firsts {
		seconds = max(seconds, len(r.Timeline))
		for _, f := range r.Faults {
			seconds = max(seconds, int(f.Heal.Sub(r.StartedAt)/time.Second)+1)
		}
		for _, sec := range r.Timeline {
			peak = max(peak, int(sec.Bookings))
		}
	}
	var charts []timelineChart
	for i, r := range firsts {
		if len(r.Timeline) == 0 && len(r.Faults) == 0 {
			continue
		}
		charts = append(charts, newTimelineChart(fmt.Sprintf("timeline-%d", i+1), r, seconds, peak))
	}
	return charts
}

func newTimelineChart(id string, r Report, seconds, peak int) timelineChart {
	ch := timelineChart{
		ID: id, Strategy: r.Strategy, Verdict: r.Verdict, VerdictClass: verdictClass(r.Verdict),
		Width: chartWidth, Height: timelineHeight + axisHeight,
		Left: timelineLeft, Right: timelineRight, Top: chartTop + 12, AxisY: timelineHeight,
		LabelX: timelineLeft - 6,
	}
	ch.TickY, ch.TitleY, ch.PlotHeight = ch.AxisY+16, ch.AxisY+34, ch.AxisY-ch.Top
	ch.Middle = round1((ch.Left + ch.Right) / 2)
	xMax, xStep := axisScale([]float64{float64(seconds)}, 8)
	x := func(s float64) float64 { return round1(ch.Left + (ch.Right-ch.Left)*min(s/xMax, 1)) }
	yTop, yStep := axisScale([]float64{float64(peak)}, 8)
	y := func(v float64) float64 { return round1(ch.AxisY - (ch.AxisY-ch.Top)*fraction(v, yTop)) }

	for s, sec := range r.Timeline {
		if sec.Bookings == 0 {
			continue // a gap says it better than a column of no height
		}
		left, right := x(float64(s)), x(float64(s+1))
		c := bar{X: left, W: max(round1(right-left-1), 1), Y: y(float64(sec.Bookings))}
		c.H = round1(ch.AxisY - c.Y)
		c.Class = "bar column " + ch.VerdictClass
		c.Title = fmt.Sprintf("%s, second %d: %d bookings, %d conflicts, %d errors",
			r.Strategy, s+1, sec.Bookings, sec.Conflicts, sec.Errors)
		ch.Columns = append(ch.Columns, c)
	}
	for i, f := range r.Faults {
		start := f.Start.Sub(r.StartedAt).Seconds()
		heal := f.Heal.Sub(f.Start).Seconds()
		sh := shade{Number: i + 1, X: x(start)}
		sh.W = max(round1(x(start+heal)-sh.X), shadeMinWidth)
		sh.LabelX = round1(sh.X + sh.W/2)
		what := f.Fault
		if f.Target != "" {
			what += " (" + f.Target + ")"
		}
		desc := fmt.Sprintf("%s at %ss, healed after %ss", what, formatNumber(start, 1), formatNumber(heal, 2))
		if f.Error != "" {
			desc += ": " + f.Error
		}
		sh.Title = fmt.Sprintf("%d: %s", i+1, desc)
		ch.Shades = append(ch.Shades, sh)
		ch.Faults = append(ch.Faults, desc)
	}
	for v := 0.0; v <= xMax+xStep/2; v += xStep {
		ch.XTicks = append(ch.XTicks, tick{X: x(v), Label: formatTick(v, xStep)})
	}
	for v := 0.0; v <= yTop+yStep/2; v += yStep {
		ch.YTicks = append(ch.YTicks, tick{Y: y(v), Label: formatTick(v, yStep)})
	}
	return ch
}
