package lab

import "testing"

func TestMedian(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := report.Median(c.xs); got != c.want {
			t.Errorf("report.Median(%v) = %g, want %g", c.xs, got, c.want)
		}
	}
	xs := []float64{3, 1, 2}
	report.Median(xs)
	if xs[0] != 3 || xs[1] != 1 || xs[2] != 2 {
		t.Errorf("median sorted its argument: %v", xs)
	}
}

// pgbench 15's summary, trimmed: the figure is the one without the
// initial connection time.
func TestParsePgbenchTPS(t *testing.T) {
	t.Parallel()
	out := `transaction type: /tmp/evento-atomic-1.pgbench
number of clients: 8
latency average = 2.371 ms
initial connection time = 11.508 ms
tps = 3371.418862 (without initial connection time)
`
	if tps, err := parsePgbenchTPS(out); err != nil || tps != 3371.418862 {
		t.Fatalf("parsePgbenchTPS = %g, %v; want 3371.418862", tps, err)
	}
	if _, err := parsePgbenchTPS("pgbench: error: connection refused"); err == nil {
		t.Fatal("no tps line accepted")
	}
}

// pgbench gets the password in PGPASSWORD, not on its command line.
func TestPgbenchURLLeavesThePasswordOffTheCommandLine(t *testing.T) {
	t.Parallel()
	raw := "postgres://ada:s3cret@127.0.0.1:5432/evento?sslmode=disable"
	if got, want := withoutPassword(raw), "postgres://ada@127.0.0.1:5432/evento?sslmode=disable"; got != want {
		t.Errorf("withoutPassword = %q, want %q", got, want)
	}
	if got := urlPassword(raw); got != "s3cret" {
		t.Errorf("urlPassword = %q", got)
	}
	if got := urlPassword("postgres://ada@127.0.0.1/evento"); got != "" {
		t.Errorf("urlPassword without one = %q", got)
	}
}
