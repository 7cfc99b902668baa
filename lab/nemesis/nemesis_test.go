package nemesis

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder is a Target that only writes down what it was asked to do.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) note(call string) { r.mu.Lock(); r.calls = append(r.calls, call); r.mu.Unlock() }
func (r *recorder) Servers() int     { return 2 }
func (r *recorder) KillServer(int)   { r.note("kill") }
func (r *recorder) RestartServer(context.Context, int) error {
	r.note("restart-server")
	return nil
}
func (r *recorder) TerminateBackends(context.Context) (int, error) {
	r.note("terminate")
	return 3, nil
}
func (r *recorder) RestartDatabase(_ context.Context, crash bool) error {
	if crash {
		r.note("crash")
	} else {
		r.note("restart-db")
	}
	return nil
}
func (r *recorder) PauseServer(int) error { r.note("pause-server"); return nil }
func (r *recorder) ResumeServer(context.Context, int) error {
	r.note("resume-server")
	return nil
}
func (r *recorder) PauseDatabase() error  { r.note("pause"); return nil }
func (r *recorder) ResumeDatabase() error { r.note("resume"); return nil }
func (r *recorder) FillDisk() error       { r.note("fill-disk"); return nil }
func (r *recorder) FreeDisk() error       { r.note("free-disk"); return nil }
func (r *recorder) Failover(context.Context) (string, error) {
	r.note("failover")
	return "pg1 → pg2", nil
}
func (r *recorder) Switchover(context.Context) (string, error) {
	r.note("switchover")
	return "pg2 → pg1", nil
}
func (r *recorder) LagThenFailover(_ context.Context, lag time.Duration) (string, error) {
	r.note("lag-failover " + lag.String())
	return "pg1 → pg2", nil
}
func (r *recorder) PausePrimary(context.Context) (string, error) {
	r.note("pause-primary")
	return "pg1, then pg2", nil
}
func (r *recorder) StallStandby(_ context.Context, d time.Duration) (string, error) {
	r.note("stall-standby " + d.String())
	return "pg2", nil
}
func (r *recorder) LoseReplies(context.Context, time.Duration) (int, error) {
	r.note("lose")
	return 1, nil
}

// Every kind comes once a round, in an order the seed decides; every fault
// started is healed and recorded.
func TestEveryKindComesOnceARound(t *testing.T) {
	t.Parallel()
	target := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []Event)
	n, err := New(target, Kinds, time.Millisecond, Pauses{Database: time.Millisecond, Server: time.Millisecond}, 7)
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- n.Run(ctx) }()
	for {
		time.Sleep(5 * time.Millisecond)
		target.mu.Lock()
		n := len(target.calls)
		target.mu.Unlock()
		if n > 3*len(Kinds) {
			break
		}
	}
	cancel()
	events := <-done
	if len(events) < len(Kinds) {
		t.Fatalf("%d events", len(events))
	}
	var first []string
	for _, e := range events[:len(Kinds)] {
		first = append(first, e.Fault)
		if e.Heal.Before(e.Start) || e.Error != "" {
			t.Fatalf("event %+v", e)
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(first)), slices.Sorted(slices.Values(Kinds))) {
		t.Fatalf("first round %v, want every kind once", first)
	}
}

// The standby faults last as long as Pauses says, each its own field:
// --standby-pause past the servers' query timeout is what makes COMMITs
// waiting for a synchronous standby be cancelled.
func TestStandbyFaultsLastAsPausesSay(t *testing.T) {
	t.Parallel()
	target := &recorder{}
	n, err := New(target, []string{LagFailover, StallStandby}, time.Millisecond, Pauses{StandbyLag: 7 * time.Second, StandbyStall: 9 * time.Second}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []Event)
	go func() { done <- n.Run(ctx) }()
	for {
		time.Sleep(5 * time.Millisecond)
		target.mu.Lock()
		n := len(target.calls)
		target.mu.Unlock()
		if n >= 2 {
			break
		}
	}
	cancel()
	<-done
	for _, want := range []string{"lag-failover 7s", "stall-standby 9s"} {
		if !slices.Contains(target.calls, want) {
			t.Errorf("calls %v, want %q among them", target.calls, want)
		}
	}
}

// replyLoser can only lose replies, as evento load's proxies: New takes
// that kind and refuses every other.
type replyLoser struct{}

func (replyLoser) LoseReplies(context.Context, time.Duration) (int, error) { return 0, nil }

func TestNewRefusesWhatTheTargetCannotDo(t *testing.T) {
	t.Parallel()
	if _, err := New(replyLoser{}, []string{LoseReplies}, time.Second, Pauses{Database: time.Second, Server: time.Second}, 1); err != nil {
		t.Fatalf("lose-replies refused: %v", err)
	}
	for _, kind := range Kinds {
		if kind == LoseReplies {
			continue
		}
		if _, err := New(replyLoser{}, []string{LoseReplies, kind}, time.Second, Pauses{Database: time.Second, Server: time.Second}, 1); err == nil {
			t.Errorf("%s accepted for a target that can only lose replies", kind)
		}
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	if got, err := Parse("all"); err != nil || !slices.Equal(got, Kinds) {
		t.Fatalf("all: %v %v", got, err)
	}
	if got, err := Parse("kill-server, kill-server,pause-postgres"); err != nil || !slices.Equal(got, []string{KillServer, PausePostgres}) {
		t.Fatalf("list: %v %v", got, err)
	}
	if _, err := Parse("meteor"); err == nil {
		t.Fatal("an unknown fault was accepted")
	}
}

// A nemesis told to skip k kinds starts its first round k kinds later in
// the order the same seed draws, so that the experiments of a comparison,
// each meeting a fault or two, meet every kind between them.
func TestSkipStartsTheFirstRoundLater(t *testing.T) {
	t.Parallel()
	kinds := []string{Failover, Switchover, PausePrimary}
	firstRound := func(skip int) []string {
		target := &recorder{}
		n, err := New(target, kinds, time.Millisecond, Pauses{}, 25)
		if err != nil {
			t.Fatal(err)
		}
		n.Skip(skip)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan []Event)
		go func() { done <- n.Run(ctx) }()
		for {
			time.Sleep(5 * time.Millisecond)
			target.mu.Lock()
			n := len(target.calls)
			target.mu.Unlock()
			if n >= 2*len(kinds) {
				break
			}
		}
		cancel()
		var faults []string
		for _, e := range (<-done)[:len(kinds)] {
			faults = append(faults, e.Fault)
		}
		return faults
	}
	drawn := firstRound(0)
	firsts := map[string]bool{}
	for k := range len(kinds) + 1 {
		got := firstRound(k)
		want := append(slices.Clone(drawn[k%len(kinds):]), drawn[:k%len(kinds)]...)
		if !slices.Equal(got, want) {
			t.Errorf("skip %d: first round %v, want %v (the seed's order %v, %d kinds later)", k, got, want, drawn, k)
		}
		firsts[got[0]] = true
	}
	if len(firsts) != len(kinds) {
		t.Errorf("first faults %v: want every kind first once", firsts)
	}
}
