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
	runStart                = time.Unix(1_700_000_000, 0)
	sampleBookingsPerSecond = []int{40, 0, 10, 30, 35} // four columns: a zero draws none
)

const timelineColumns = 4

// sampleComparison is three strategies with every number positive, so
// every bar has a width: one overbooked with anomalies, one consistent
// (the fastest safe) and one inconclusive whose name needs escaping.
func sampleComparison() report.Comparison {
	sellout := 1.25
	reports := []report.Report{
		{
			Strategy: "naive", Verdict: checker.Overbooked, SelloutSeconds: &sellout,
			ReservationsPerSecond: 1200, LatencyMs: client.LatencyMs{P50: 12, P90: 30, P99: 80, Max: 120},
			Anomalies: []string{"overbooked: hotel 1 (event 1) has 330 rooms booked of 300 assigned (30 too many)"},
			Notes:     []string{},
		},
		{
			Strategy: "atomic", Verdict: checker.Consistent, SelloutSeconds: &sellout,
			ReservationsPerSecond: 900, LatencyMs: client.LatencyMs{P50: 9.5, P90: 20, P99: 41.2, Max: 60},
			Requests:  client.RequestCounts{Success: 900, Conflict: 3, Retries: 3},
			Anomalies: []string{}, Notes: []string{},
			// Run under faults: its throughput second by second, with a
			// gap where PostgreSQL crashed.
			StartedAt:         runStart,
			BookingsPerSecond: sampleBookingsPerSecond,
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
		},
	}
	return report.Compare(report.Workload{Clients: 100, Servers: 2, Hotels: 3, Rooms: 300, Think: "0s", Seed: 3}, reports)
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
	end := strings.Index(page[start:], "</svg>")
	if end < 0 {
		t.Fatalf("<svg id=%q> is not closed", id)
	}
	return page[start : start+end]
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

	throughput := svgByID(t, page, "throughput-chart")
	if got := strings.Count(throughput, `class="bar throughput `); got != n {
		t.Errorf("throughput chart has %d bars, want one per strategy (%d)", got, n)
	}
	latency := svgByID(t, page, "latency-chart")
	for _, p := range []string{"p50", "p99"} {
		if got := strings.Count(latency, `class="bar latency `+p+`"`); got != n {
			t.Errorf("latency chart has %d %s bars, want one per strategy (%d)", got, p, n)
		}
	}
	if !strings.Contains(page, `data-bars="`+strconv.Itoa(3*n+timelineColumns)+`"`) {
		t.Errorf("body does not announce %d bars", 3*n+timelineColumns)
	}
	// The longest bar spans the plot; the others are scaled against it.
	widths := regexp.MustCompile(`class="bar throughput [^"]*" x="[^"]*" y="[^"]*" width="([^"]*)"`).FindAllStringSubmatch(throughput, -1)
	if len(widths) != n {
		t.Fatalf("found %d throughput bar widths, want %d", len(widths), n)
	}
	w0, _ := strconv.ParseFloat(widths[0][1], 64)
	w2, _ := strconv.ParseFloat(widths[2][1], 64)
	if !(w0 > 0) || math.Abs(w2/w0-450.5/1200) > 0.01 {
		t.Errorf("bar widths %v and %v are not in proportion 450.5:1200", w0, w2)
	}

	for _, want := range []string{
		`class="bar throughput v-overbooked"`, `class="bar throughput v-consistent"`, `class="bar throughput v-inconclusive"`,
		`<span class="v-overbooked">overbooked</span>`, `<span class="v-consistent">consistent</span>`, `<span class="v-inconclusive">inconclusive</span>`,
		"rect.v-consistent", "rect.v-overbooked", "rect.v-inconsistent", "rect.v-inconclusive", // every verdict has a colour
		`<tr class="fastest"><td class="strategy">atomic</td>`, "fastest safe",
		"100 clients, 2 servers, 3 hotels × 300 rooms, think 0s, seed 3",
		"1,200", "450.5", "41.2", // a thousands separator, the table and the value labels
		"overbooked: hotel 1 (event 1) has 330 rooms booked",
		"note: verified through the API only",
		"No anomalies: <strong>atomic</strong>.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
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
	// Escaped: the strategy's name and the anomaly are text, never markup.
	if got := strings.Count(page, "<script"); got != 1 {
		t.Errorf("%d <script elements, want only the page's own", got)
	}
	for _, bad := range []string{`alert("x")`, "<b>7</b>", `& "left"`} {
		if strings.Contains(page, bad) {
			t.Errorf("unescaped %q in the page", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;b&gt;7&lt;/b&gt; clients gave up &amp; &#34;left&#34;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped %q", want)
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
	}{
		{"no strategies", nil},
		{"all zero", []report.Report{{Strategy: "a", Verdict: checker.Overbooked}, {Strategy: "b", Verdict: "unheard-of"}}},
		{"not finite", []report.Report{
			{Strategy: "a", Verdict: checker.Consistent, ReservationsPerSecond: math.NaN(), LatencyMs: client.LatencyMs{P50: math.Inf(1), P99: math.NaN()}},
			{Strategy: "b", Verdict: checker.Inconsistent, ReservationsPerSecond: math.Inf(1), LatencyMs: client.LatencyMs{P50: -1, P99: 3}},
		}},
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
			if got := strings.Count(throughput, `class="bar `); got != len(tc.reports) {
				t.Errorf("%d throughput bars, want %d", got, len(tc.reports))
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

func findChromium() string {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	return ""
}

// TestHTMLRendersInChromium opens the page in a real headless browser and
// reads back how many bars its script found drawn with a size. Skipped
// without chromium, except on CI (CI=true), which installs it.
func TestHTMLRendersInChromium(t *testing.T) {
	t.Parallel()
	bin := findChromium()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed, and CI=true: .ci/run installs it (apt-get install chromium)")
		}
		t.Skip("chromium is not installed (apt-get install chromium); skipping the browser test")
	}
	c := sampleComparison()
	var b bytes.Buffer
	if err := c.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want := 3*len(c.Rows) + timelineColumns // every value is positive: every bar has a width

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, chromiumArgs(t.TempDir(), page)...)
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
	m := regexp.MustCompile(`data-rendered-bars="(\d+)"`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("the dumped DOM has no data-rendered-bars (chromium: %v)\nstdout:\n%s\nstderr:\n%s",
			err, tail(stdout.String()), tail(stderr.String()))
	}
	if got, _ := strconv.Atoi(m[1]); got != want {
		t.Errorf("chromium drew %d bars with a size, want %d", got, want)
	}
	if !strings.Contains(stdout.String(), "&lt;script&gt;alert") {
		t.Errorf("the escaped strategy name is not in the rendered DOM")
	}
}

// chromiumArgs renders the page headless, offline and without a profile
// of its own, then prints the DOM. As root chromium needs --no-sandbox.
func chromiumArgs(profile, page string) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--virtual-time-budget=2000", "--dump-dom",
		(&url.URL{Scheme: "file", Path: page}).String(),
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}
