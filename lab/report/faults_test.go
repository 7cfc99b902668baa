package report

import (
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
)

// Attempts fall in the window of the fault they met (from its start to the
// next one's), errors are those with no answer, a 5xx or never sent, and
// the recovery is how long after the heal the last error came back.
func TestFaultWindows(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	faults := []nemesis.Event{
		{Fault: nemesis.KillServer, Start: at(1), Heal: at(1.5)},
		{Fault: nemesis.TerminateBackends, Start: at(3), Heal: at(3)},
	}
	attempt := func(invoked, completed float64, class string, status int) client.Attempt {
		return client.Attempt{Invoked: at(invoked), Completed: at(completed), Class: class, Status: status}
	}
	attempts := []client.Attempt{
		attempt(0.5, 0.6, client.ClassOK, 201),   // before any fault
		attempt(1.1, 1.2, client.ClassInfo, 0),   // lost when the server died
		attempt(1.2, 1.3, client.ClassFail, 0),   // refused at connect
		attempt(1.6, 2.0, client.ClassFail, 503), // an error after the heal
		attempt(2.5, 2.6, client.ClassFail, 409), // sold out: not an error
		attempt(2.9, 2.95, client.ClassOK, 201),
		attempt(3.1, 3.2, client.ClassOK, 201), // the next window
	}
	w := faultWindows(t0, faults, attempts)
	if len(w) != 2 {
		t.Fatalf("%d windows", len(w))
	}
	first := w[0]
	if first.OK != 1 || first.Fail != 3 || first.Info != 1 || first.Errors != 3 {
		t.Fatalf("first window %+v", first)
	}
	if first.StartSeconds != 1 || first.HealSeconds != 0.5 || first.RecoverySeconds < 0.49 || first.RecoverySeconds > 0.51 {
		t.Fatalf("first window times %+v; want recovery 0.5s after the heal", first)
	}
	if second := w[1]; second.OK != 1 || second.Errors != 0 || second.RecoverySeconds != 0 {
		t.Fatalf("second window %+v", second)
	}
}

// One of a thing is not "1 things".
func TestWriteTextSaysOneInTheSingular(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	r := Report{Strategy: "atomic", Clients: 1, Servers: 1, Think: "0s", Verdict: "consistent"}
	r.Unknown.Rooms = 1
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1 client, 1 server", "(1 room)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}
