//go:build !linux

package localpg

import "errors"

// childProcesses needs /proc; pausing a server is Linux-only.
func childProcesses(int) ([]int, error) {
	return nil, errors.New("pausing PostgreSQL needs Linux's /proc")
}

func processesIn(dir string) []int { return nil }
