package main

import (
	"net"
	"strings"
	"testing"
)

// A taken --addr (or --admin-addr) fails at once in one line, before a
// throwaway PostgreSQL is started and stopped for nothing.
func TestServeOnATakenPortFailsBeforeStartingPostgres(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, flag := range []string{"--addr", "--admin-addr"} {
		r := runEvento(t, []string{"DATABASE_URL="}, "serve", "--embedded", flag, addr)
		if r.exit != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
			!strings.Contains(r.stderr, flag+" "+addr+" is taken") || strings.Contains(r.stderr, "started throwaway") {
			t.Errorf("evento serve %s %s (taken): exit %d, stderr %q; want exit 2 and one line saying it is taken, no PostgreSQL started",
				flag, addr, r.exit, r.stderr)
		}
	}
}
