package cluster

import (
	"os"
	"strconv"
	"strings"
)

// PeakRSSBytes is this process's peak resident memory (VmHWM), so a report
// can show what the clients cost; 0 when unknown.
func PeakRSSBytes() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
