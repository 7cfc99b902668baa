package api

import "testing"

// countsAllocations skips t under the race detector (see raceDetector).
func countsAllocations(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("allocation counts vary under -race; make test counts them without it")
	}
}
