package explain

import (
	"fmt"
	"strings"
	"testing"

	"github.com/evento-lab/evento/db"
)

// A lost compare-and-swap's note says what the write path does next: a
// strategy whose Attempts rerun it says the server does so before the
// client hears of it; one without reruns leaves the retry to the client.
func TestConflictNoteSaysWhoRetries(t *testing.T) {
	t.Parallel()
	optimistic, ok := db.LookupStrategy("optimistic")
	if !ok || optimistic.Attempts < 2 {
		t.Fatalf("optimistic: %+v; want a strategy that reruns its conflicts", optimistic)
	}
	once := optimistic
	once.Name, once.Attempts = "optimistic, never rerun", 1
	rep, err := Explain(testContext(t), newTarget(t), []db.Strategy{optimistic, once}, []string{optimistic.Name, once.Name}, []string{"lost-update"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		optimistic.Name: fmt.Sprintf("the server reruns it after a backoff, %d runs in all, then the client retries", optimistic.Attempts),
		once.Name:       ": the client retries",
	}
	for _, r := range rep.Runs {
		var notes []string
		for _, s := range r.Steps {
			if strings.Contains(s.Note, "Go: conflict") {
				notes = append(notes, s.Note)
			}
		}
		if len(notes) != 1 || !strings.HasSuffix(notes[0], want[r.Subject]) {
			t.Errorf("%s: conflict notes %q; want one ending %q", r.Subject, notes, want[r.Subject])
		}
	}
	if len(rep.Runs) != 2 {
		t.Fatalf("%d runs; want 2", len(rep.Runs))
	}
}
