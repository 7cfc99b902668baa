package main

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	runtimepprof "runtime/pprof"
	"strings"
)

// cpuProfileEnv names a directory: when it is set, every evento process
// (a lab's load process, and the servers it starts, which inherit it)
// writes a CPU profile of its whole life there, as COMMAND-PID.pprof.
// It measures where the time goes (docs/performance.md); it is not a
// setting, so it is no flag.
const cpuProfileEnv = "EVENTO_CPU_PROFILE_DIR"

// startCPUProfile starts the profile cpuProfileEnv asks for, if any, and
// returns what stops and writes it.
func startCPUProfile(args []string) (stop func()) {
	dir := os.Getenv(cpuProfileEnv)
	if dir == "" {
		return func() {}
	}
	command := "evento"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		command = args[0]
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", command, os.Getpid()))
	f, err := os.Create(path)
	if err == nil {
		err = runtimepprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "evento: %s: no CPU profile: %v\n", cpuProfileEnv, err)
		return func() {}
	}
	return func() {
		runtimepprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "evento: write CPU profile %s: %v\n", path, err)
		}
	}
}

// withPprof adds net/http/pprof's /debug/pprof/ to an admin handler.
func withPprof(admin http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", admin)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
