package cluster

import (
	"runtime"
	"strings"
	"testing"
)

// A server's stderr is kept as its last lines, whole or not, for the
// errors that name it.
func TestTailBufferKeepsTheLastLines(t *testing.T) {
	t.Parallel()
	tail := newTailBuffer(2)
	if got := tail.String(); got != "(empty)" {
		t.Fatalf("empty tail: %q", got)
	}
	tail.Write([]byte("one\ntwo\nthr"))
	tail.Write([]byte("ee\nfour"))
	if got, want := tail.String(), "two | three | four"; got != want {
		t.Fatalf("tail %q, want %q", got, want)
	}
}

// Servers the lab starts on one machine get their share of its cores,
// unless the lab's own environment says how many each may use.
func TestServersGetTheirShareOfTheCores(t *testing.T) {
	spec := ServerSpec{DatabaseURL: "postgres://x", Procs: 1}
	env := func() []string {
		var procs []string
		for _, kv := range serverEnv(spec) {
			if strings.HasPrefix(kv, "GOMAXPROCS=") {
				procs = append(procs, kv)
			}
		}
		return procs
	}
	if got := env(); len(got) != 1 || got[0] != "GOMAXPROCS=1" {
		t.Fatalf("server environment sets %q, want GOMAXPROCS=1", got)
	}
	t.Setenv("GOMAXPROCS", "2")
	if got := env(); len(got) != 1 || got[0] != "GOMAXPROCS=2" {
		t.Fatalf("with GOMAXPROCS=2 in the lab's environment, the server's sets %q", got)
	}
	cores := runtime.GOMAXPROCS(0)
	if n := ServerProcs(2 * cores); n != 1 {
		t.Fatalf("%d servers on %d cores: GOMAXPROCS %d each, want 1", 2*cores, cores, n)
	}
	if n := ServerProcs(1); n != 0 {
		t.Fatalf("one server: GOMAXPROCS %d, want Go's default (0)", n)
	}
}

// Servers the lab starts keep their sysmon awake (sysmonAwake), beside
// any other GODEBUG setting of the lab's, unless the lab sets a schedtrace
// of its own.
func TestServersKeepSysmonAwake(t *testing.T) {
	godebug := func() string {
		got := ""
		for _, kv := range serverEnv(ServerSpec{DatabaseURL: "postgres://x", Procs: 1}) {
			if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
				got = v // exec takes the last
			}
		}
		return got
	}
	t.Setenv("GODEBUG", "")
	if got := godebug(); got != sysmonAwake {
		t.Fatalf("server GODEBUG %q, want %q", got, sysmonAwake)
	}
	t.Setenv("GODEBUG", "http2client=0")
	if got, want := godebug(), "http2client=0,"+sysmonAwake; got != want {
		t.Fatalf("server GODEBUG %q, want %q", got, want)
	}
	t.Setenv("GODEBUG", "schedtrace=0")
	if got := godebug(); got != "schedtrace=0" {
		t.Fatalf("with schedtrace=0 in the lab's GODEBUG, the server's is %q", got)
	}
}
