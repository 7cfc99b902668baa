package report_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
	"github.com/evento-lab/evento/lab/report"
)

const evilName = `<script>alert("x")</script>`

var (
	runStart       = time.Unix(1_700_000_000, 0)
	sampleTimeline = []client.Second{{Bookings: 40}, {Errors: 3}, {Bookings: 10}, {Bookings: 30}, {Bookings: 35}} // four columns: a zero draws none
)

const timelineColumns = 4

// sampleHotels are three hotels of 300 rooms with booked rooms each.
func sampleHotels(booked int64) []report.HotelReport {
	return []report.HotelReport{{Assigned: 300, Booked: booked}, {Assigned: 300, Booked: booked}, {Assigned: 300, Booked: booked}}
}

// sampleComparison is four strategies with every number positive, so
// every bar has a width: one overbooked with anomalies and the most
// reservations/s (not ranked: no throughput bar), two consistent (atomic
// the fastest safe, at 900 rooms / 1.25 s = 720 rooms/s, and batched at
// 900 / 2 s = 450) and one inconclusive whose name needs escaping (not
// ranked either).
func sampleComparison() report.Comparison {
	sellout, slower := 1.25, 2.0
	reports := []report.Report{
		{
			Strategy: "naive", Verdict: checker.Overbooked, SelloutSeconds: &sellout,
			ReservationsPerSecond: 1200, LatencyMs: client.LatencyMs{P50: 12, P90: 30, P99: 80, Max: 120},
			Hotels:    sampleHotels(330),
			Anomalies: []string{"overbooked: hotel 1 (event 1) has 330 rooms booked of 300 assigned (30 too many)"},
			Notes:     []string{},
		},
		{
			Strategy: "atomic", Verdict: checker.Consistent, SelloutSeconds: &sellout,
			ReservationsPerSecond: 900, LatencyMs: client.LatencyMs{P50: 9.5, P90: 20, P99: 41.2, Max: 60},
			Hotels:    sampleHotels(300),
			Requests:  client.RequestCounts{Success: 900, Conflict: 3, Retries: 3},
			Anomalies: []string{}, Notes: []string{},
			// Run under faults: its throughput second by second, with a
			// gap where PostgreSQL crashed.
			StartedAt: runStart,
			Timeline:  sampleTimeline,
			Faults: []nemesis.Event{
				{Fault: nemesis.CrashPostgres, Start: runStart.Add(1200 * time.Millisecond), Heal: runStart.Add(2600 * time.Millisecond)},
				{Fault: nemesis.TerminateBackends, Target: "4 sessions", Start: runStart.Add(3 * time.Second), Heal: runStart.Add(3 * time.Second)},
			},
		},
		{
			Strategy: evilName, Verdict: checker.Inconclusive, // did not sell out
			ReservationsPerSecond: 450.5, LatencyMs: client.LatencyMs{P50: 30, P90: 100, P99: 250, Max: 400},
			Requests:  client.RequestCounts{Error: 7},
			Anomalies: []string{`inconclusive: <b>7</b> clients gave up & "left"`},
			Notes:     []string{"verified through the API only"},
			Hotels:    sampleHotels(100), ElapsedSeconds: 10,
		},
		{
			Strategy: "batched", Verdict: checker.Consistent, SelloutSeconds: &slower,
			ReservationsPerSecond: 500, LatencyMs: client.LatencyMs{P50: 8, P90: 15, P99: 30, Max: 50},
			Hotels: sampleHotels(300), Anomalies: []string{}, Notes: []string{},
			Server: &report.ServerStats{Batches: 100, BatchedRequests: 600},
		},
	}
	c := report.Compare(report.Workload{Clients: 100, Servers: 2, Hotels: 3, Rooms: 300, Think: "0s", Seed: 3}, reports)
	c.Machine = report.Machine{Commit: "abc1234", CPUs: 2, PostgreSQL: "15.8", GoVersion: "go1.26", OS: "linux", Arch: "amd64"}
	c.SQL = map[string]string{"atomic": "UPDATE hotel_rooms <set> ...", "batched": "WITH hotel AS (...)"}
	return c
}

func renderHTML(t *testing.T, c report.Comparison) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.WriteHTML(&b); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.String()
}

// svgByID returns the <svg> element with that id, from its start tag to
// its end tag.
func svgByID(t *testing.T, page, id string) string {
	t.Helper()
	start := strings.Index(page, `<svg id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no <svg id=%q> in the page", id)
	}
	svg, _, closed := strings.Cut(page[start:], "</svg>")
	if !closed {
		t.Fatalf("<svg id=%q> is not closed", id)
	}
	return svg
}

func TestWriteHTML(t *testing.T) {
	t.Parallel()
	c := sampleComparison()
	page := renderHTML(t, c)
	n := len(c.Rows)

	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Errorf("not a whole HTML document:\n%.200s ... %s", page, page[max(0, len(page)-100):])
	}
	for _, tag := range []string{"html", "head", "body", "table", "svg", "style", "ul"} {
		if o, cl := strings.Count(page, "<"+tag), strings.Count(page, "</"+tag+">"); o != cl || o == 0 {
			t.Errorf("<%s>: %d opened, %d closed", tag, o, cl)
		}
	}
	if got := strings.Count(page, "<tr"); got != n+1 {
		t.Errorf("%d table rows, want a header and %d", got, n)
	}

	// Only the safe strategies are drawn, fastest first; the others get a
	// line saying why not, never a bar.
	throughput := svgByID(t, page, "throughput-chart")
	if got := strings.Count(throughput, `class="bar throughput `); got != 2 {
		t.Errorf("throughput chart has %d bars, want one per safe strategy (2)", got)
	}
	for _, want := range []string{"overbooked: not ranked", "inconclusive: not ranked"} {
		if strings.Count(throughput, want) != 1 {
			t.Errorf("throughput chart lacks %q", want)
		}
	}
	latency := svgByID(t, page, "latency-chart")
	for _, p := range []string{"p50", "p99"} {
		if got := strings.Count(latency, `class="bar latency `+p+`"`); got != n {
			t.Errorf("latency chart has %d %s bars, want one per strategy (%d)", got, p, n)
		}
	}
	if want := 2 + 2*n + timelineColumns; !strings.Contains(page, `data-bars="`+strconv.Itoa(want)+`"`) {
		t.Errorf("body does not announce %d bars", want)
	}
	// The fastest safe bar spans the plot; the other is scaled against it.
	widths := regexp.MustCompile(`class="bar throughput [^"]*" x="[^"]*" y="[^"]*" width="([^"]*)" height="[^"]*"><title>([^:]*):`).FindAllStringSubmatch(throughput, -1)
	if len(widths) != 2 || widths[0][2] != "atomic" || widths[1][2] != "batched" {
		t.Fatalf("throughput bars %v, want atomic's then batched's", widths)
	}
	w0, _ := strconv.ParseFloat(widths[0][1], 64)
	w1, _ := strconv.ParseFloat(widths[1][1], 64)
	if !(w0 > 0) || math.Abs(w1/w0-450.0/720) > 0.01 {
		t.Errorf("bar widths %v and %v are not in proportion 450:720", w0, w1)
	}
	// Ranked rows first, then the unranked in the order they ran.
	var order []string
	for _, m := range regexp.MustCompile(`<td class="strategy">([^<]*)</td>`).FindAllStringSubmatch(page, -1) {
		order = append(order, m[1])
	}
	if strings.Join(order, ",") != "atomic,batched,naive,&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" {
		t.Errorf("table rows in order %v", order)
	}

	for _, want := range []string{
		`class="bar throughput v-consistent"`,
		`<span class="v-overbooked">overbooked</span>`, `<span class="v-consistent">consistent</span>`, `<span class="v-inconclusive">inconclusive</span>`,
		`<tr class="fastest"><td class="strategy">atomic</td>`, "fastest safe",
		`<td class="unranked">unsafe</td>`, "0.62×",
		"100 clients, 2 servers, 3 hotels × 300 rooms, think 0s, seed 3",
		"commit abc1234, 2 CPUs, PostgreSQL 15.8",
		"<li>atomic was the fastest safe strategy: 720 rooms/s",
		"1,200", "720.0", "41.2", // a thousands separator, the table, the tooltips and the value labels
		"overbooked: hotel 1 (event 1) has 330 rooms booked",
		"note: verified through the API only",
		"No anomalies: <strong>atomic</strong>, <strong>batched</strong>.",
		"<summary><strong>atomic</strong><code>queries/atomic.sql</code></summary>", "UPDATE hotel_rooms &lt;set&gt;",
		// Escaped: the strategy's name and the anomaly are text, never markup.
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;b&gt;7&lt;/b&gt; clients gave up &amp; &#34;left&#34;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, v := range checker.Verdicts() { // every verdict has a colour
		for _, rule := range []string{"rect.v-" + v + " {", "span.v-" + v + ","} {
			if !strings.Contains(page, rule) {
				t.Errorf("page lacks %q: verdict %s has no colour", rule, v)
			}
		}
	}
	if got := strings.Count(page, `class="fastest"`); got != 1 {
		t.Errorf("%d rows marked fastest, want 1", got)
	}
	// The strategy without a sell-out shows "-" in its sell-out column.
	if !regexp.MustCompile(`<td class="strategy">&lt;script&gt;[^\n]*</span></td><td>-</td>`).MatchString(page) {
		t.Errorf("no \"-\" sell-out for the strategy that did not sell out")
	}

	// Self-contained: nothing refers to anything outside the page.
	for _, bad := range []string{"http://", "https://", "src=", "href=", "url(", "@import", "//cdn"} {
		if strings.Contains(page, bad) {
			t.Errorf("page refers outside itself: contains %q", bad)
		}
	}
	// Escaped, as above: no markup from the strategy's name or the anomaly.
	if got := strings.Count(page, "<script"); got != 1 {
		t.Errorf("%d <script elements, want only the page's own", got)
	}
	for _, bad := range []string{`alert("x")`, "<b>7</b>", `& "left"`} {
		if strings.Contains(page, bad) {
			t.Errorf("unescaped %q in the page", bad)
		}
	}
}

// A run under faults gets a throughput-over-time chart: a column per
// second, in proportion, and each fault's window shaded where it happened
// and explained under the chart. Runs without a timeline get none.
func TestWriteHTMLTimeline(t *testing.T) {
	t.Parallel()
	page := renderHTML(t, sampleComparison())
	if got := strings.Count(page, `class="chart timeline"`); got != 1 {
		t.Fatalf("%d timeline charts, want 1 (only atomic ran under faults)", got)
	}
	timeline := svgByID(t, page, "timeline-2")
	columns := regexp.MustCompile(`class="bar column v-consistent" x="([^"]*)" y="[^"]*" width="[^"]*" height="([^"]*)"`).FindAllStringSubmatch(timeline, -1)
	if len(columns) != timelineColumns {
		t.Fatalf("%d columns, want %d", len(columns), timelineColumns)
	}
	h0, _ := strconv.ParseFloat(columns[0][2], 64)
	h1, _ := strconv.ParseFloat(columns[1][2], 64)
	if !(h0 > 0) || math.Abs(h1/h0-10.0/40) > 0.02 {
		t.Errorf("column heights %v and %v are not in proportion 10:40", h0, h1)
	}
	shades := regexp.MustCompile(`<rect class="fault" x="([^"]*)" y="[^"]*" width="([^"]*)"`).FindAllStringSubmatch(timeline, -1)
	if len(shades) != 2 {
		t.Fatalf("%d fault shades, want 2", len(shades))
	}
	crashX, _ := strconv.ParseFloat(shades[0][1], 64)
	crashW, _ := strconv.ParseFloat(shades[0][2], 64)
	secondX, _ := strconv.ParseFloat(columns[1][1], 64) // the column of second 3 (second 2 had none)
	termX, _ := strconv.ParseFloat(shades[1][1], 64)
	termW, _ := strconv.ParseFloat(shades[1][2], 64)
	// The crash lasted 1.4 s from 1.2 s: it ends inside second 3, whose
	// column starts at 2 s.
	if !(crashX < secondX && crashX+crashW > secondX) {
		t.Errorf("crash shade [%v, %v] does not cover the start of second 3 at %v", crashX, crashX+crashW, secondX)
	}
	if !(termW > 0) || termX <= crashX+crashW {
		t.Errorf("an instant fault must still show, after the crash: x %v width %v", termX, termW)
	}
	for _, want := range []string{
		"crash-postgres at 1.2s, healed after 1.40s",
		"terminate-backends (4 sessions) at 3.0s, healed after 0.00s",
		"Throughput over time, faults shaded",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// Zero, NaN and infinite numbers, no sell-out and no safe strategy draw
// empty bars and dashes, never NaN, Inf or a division by zero.
func TestWriteHTMLDegenerateNumbers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		reports []report.Report
		safe    int // strategies judged consistent: one throughput bar each
	}{
		{"no strategies", nil, 0},
		{"all zero", []report.Report{{Strategy: "a", Verdict: checker.Overbooked}, {Strategy: "b", Verdict: "unheard-of"}}, 0},
		{"not finite", []report.Report{
			{Strategy: "a", Verdict: checker.Consistent, ReservationsPerSecond: math.NaN(), LatencyMs: client.LatencyMs{P50: math.Inf(1), P99: math.NaN()}},
			{Strategy: "b", Verdict: checker.Inconsistent, ReservationsPerSecond: math.Inf(1), LatencyMs: client.LatencyMs{P50: -1, P99: 3}},
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := report.Compare(report.Workload{Clients: 1, Servers: 1, Hotels: 1, Rooms: 1, Think: "0s"}, tc.reports)
			page := renderHTML(t, c)
			for _, bad := range []string{"NaN", "Inf", "unheard-of\"", "v-unheard"} {
				if strings.Contains(page, bad) {
					t.Errorf("page contains %q", bad)
				}
			}
			throughput := svgByID(t, page, "throughput-chart")
			if got := strings.Count(throughput, `class="bar `); got != tc.safe {
				t.Errorf("%d throughput bars, want one per safe strategy, %d", got, tc.safe)
			}
			if got := strings.Count(page, `<td>-</td>`); len(tc.reports) > 0 && got < len(tc.reports) {
				t.Errorf("%d dashes, want at least one per strategy (no sell-out)", got)
			}
			for _, m := range regexp.MustCompile(` (?:x|y|x1|x2|y1|y2|width|height)="([^"]*)"`).FindAllStringSubmatch(page, -1) {
				if v, err := strconv.ParseFloat(m[1], 64); err != nil || v < 0 || v > 1000 {
					t.Errorf("attribute %s is not a sensible coordinate", m[0])
				}
			}
		})
	}
}

// TestHTMLRendersInChromium opens the page in a real headless browser and
// reads back how many bars its script found drawn with a size, at a
// desktop width and at a phone's 420 px, where the charts must still fit
// the window with text no smaller than 10.5 px. Skipped without chromium,
// except on CI (CI=true), which installs it.
func TestHTMLRendersInChromium(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		bin, err = exec.LookPath("/usr/bin/chromium")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed, and CI=true: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	}
	c := sampleComparison()
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, []byte(renderHTML(t, c)), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every value is positive, so every bar has a width: the two safe
	// strategies' throughput, everyone's p50 and p99, the timeline.
	want := 2 + 2*len(c.Rows) + timelineColumns

	for _, width := range []int{1300, 420} {
		t.Run(strconv.Itoa(width)+"px", func(t *testing.T) {
			t.Parallel()
			dom := renderInChromium(t, bin, page, width)
			if got := domNumber(t, dom, "data-rendered-bars"); got != float64(want) {
				t.Errorf("chromium drew %v bars with a size, want %d", got, want)
			}
			if !strings.Contains(dom, "&lt;script&gt;alert") {
				t.Errorf("the escaped strategy name is not in the rendered DOM")
			}
			if got := domNumber(t, dom, "data-charts-outside"); got != 0 {
				t.Errorf("%v charts stick out of a %d px window", got, width)
			}
			if got := domNumber(t, dom, "data-page-overflow"); got != 0 {
				t.Errorf("the page is %v px wider than a %d px window", got, width)
			}
			if got := domNumber(t, dom, "data-smallest-chart-text"); got < 10.5 {
				t.Errorf("at %d px the charts' smallest text is drawn %v px high, want at least 10.5", width, got)
			}
		})
	}
}

// renderInChromium loads the page in a window width px wide and returns
// the DOM after its script ran: headless, offline and without a profile of
// its own. As root chromium needs --no-sandbox.
func renderInChromium(t *testing.T, bin, page string, width int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=2000", "--dump-dom",
		(&url.URL{Scheme: "file", Path: page}).String(), "--window-size="+strconv.Itoa(width)+",900")
	cmd.WaitDelay = 5 * time.Second // do not wait on a helper process holding the pipes
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("chromium did not finish in 60s: %v\nstderr:\n%s", ctx.Err(), tail(stderr.String()))
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run chromium: %v", err)
	}
	if !strings.Contains(stdout.String(), "data-rendered-bars=") {
		t.Fatalf("the dumped DOM has no data-rendered-bars (chromium: %v)\nstdout:\n%s\nstderr:\n%s",
			err, tail(stdout.String()), tail(stderr.String()))
	}
	return stdout.String()
}

// domNumber reads a number the page's script left on <body>.
func domNumber(t *testing.T, dom, attr string) float64 {
	t.Helper()
	m := regexp.MustCompile(attr + `="([0-9.]+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the rendered DOM has no %s", attr)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
