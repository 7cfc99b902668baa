package lab

import (
	"os"
	"runtime"
	"testing"
)

// A bench's clients get each server's share of the cores, and give them
// back; a GOMAXPROCS in the environment, or a server alone, keeps them all.
func TestBenchClientsGetAServersShareOfTheCores(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	t.Setenv("GOMAXPROCS", "4") // restored after the test
	os.Unsetenv("GOMAXPROCS")
	for _, tc := range []struct{ servers, want int }{{2, 2}, {3, 1}, {8, 1}, {1, 4}} {
		restore := useLoadProcs(tc.servers)
		if got := runtime.GOMAXPROCS(0); got != tc.want {
			t.Errorf("%d servers: GOMAXPROCS %d, want %d", tc.servers, got, tc.want)
		}
		restore()
		if got := runtime.GOMAXPROCS(0); got != 4 {
			t.Fatalf("%d servers: GOMAXPROCS %d after restore, want 4", tc.servers, got)
		}
	}
	t.Setenv("GOMAXPROCS", "4")
	restore := useLoadProcs(2)
	defer restore()
	if got := runtime.GOMAXPROCS(0); got != 4 {
		t.Fatalf("GOMAXPROCS=4 in the environment: %d, want 4", got)
	}
}
