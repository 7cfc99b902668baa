package cluster

import "testing"

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
