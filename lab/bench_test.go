package lab

import (
	"slices"
	"testing"

	"github.com/evento-lab/evento/lab/client"
)

func TestParsePgbench(t *testing.T) {
	t.Parallel()
	out := `transaction type: /tmp/evento-atomic-1.pgbench
number of clients: 8
number of transactions actually processed: 16857
number of failed transactions: 0 (0.000%)
latency average = 2.371 ms
initial connection time = 11.508 ms
tps = 3371.418862 (without initial connection time)
`
	if run, err := parsePgbench(out); err != nil || run.tps != 3371.418862 || run.transactions != 16857 {
		t.Fatalf("parsePgbench = %+v, %v; want 3371.418862 tps, 16857 transactions", run, err)
	}
	if _, err := parsePgbench("pgbench: error: connection refused"); err == nil {
		t.Fatal("no tps line accepted")
	}
}

// pgbench gets the password in PGPASSWORD, not on its command line.
func TestPgbenchURLLeavesThePasswordOffTheCommandLine(t *testing.T) {
	t.Parallel()
	raw := "postgres://ada:s3cret@127.0.0.1:5432/evento?sslmode=disable"
	url, password := splitPassword(raw)
	if want := "postgres://ada@127.0.0.1:5432/evento?sslmode=disable"; url != want {
		t.Errorf("without the password = %q, want %q", url, want)
	}
	if password != "s3cret" {
		t.Errorf("password = %q", password)
	}
	if _, password := splitPassword("postgres://ada@127.0.0.1/evento"); password != "" {
		t.Errorf("password without one = %q", password)
	}
}

// Each round of evento bench starts one measurement further along and
// every other round runs backwards, so no measurement always runs right
// after the same one (a plain rotation would keep every predecessor).
func TestRoundOrderChangesWhatRunsBeforeEach(t *testing.T) {
	t.Parallel()
	values := []string{"pgbench", "atomic", "sharded/4+keys", "sharded/16"}
	for round, want := range map[int][]string{
		1: {"pgbench", "atomic", "sharded/4+keys", "sharded/16"},
		2: {"pgbench", "sharded/16", "sharded/4+keys", "atomic"},
		3: {"sharded/4+keys", "sharded/16", "pgbench", "atomic"},
	} {
		if got := roundOrder(values, round); !slices.Equal(got, want) {
			t.Errorf("round %d = %v, want %v", round, got, want)
		}
	}
	predecessors := map[string]bool{}
	for round := 1; round <= 4; round++ {
		order := roundOrder(values, round)
		if i := slices.Index(order, "sharded/16"); i > 0 {
			predecessors[order[i-1]] = true
		}
	}
	if len(predecessors) < 2 {
		t.Errorf("sharded/16 ran after %v in every round", predecessors)
	}
	if values[0] != "pgbench" {
		t.Errorf("roundOrder changed its argument: %v", values)
	}
}

// A bench label is NAME[/K][@ROUTE][+keys].
func TestBenchModeReadsEveryPartOfALabel(t *testing.T) {
	mode, buckets, route, keyed := benchMode("sharded/16@hotel+keys")
	if mode != "sharded" || buckets != 16 || route != client.ByHotel || !keyed {
		t.Fatalf("sharded/16@hotel+keys: %q %d %q %v", mode, buckets, route, keyed)
	}
	if mode, buckets, route, keyed := benchMode("atomic"); mode != "atomic" || buckets != 0 || route != "" || keyed {
		t.Fatalf("atomic: %q %d %q %v", mode, buckets, route, keyed)
	}
}
