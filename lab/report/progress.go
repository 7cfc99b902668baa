package report

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/evento-lab/evento/lab/client"
)

// refreshEvery is how often progress is redrawn: a few times a second is
// live to the eye and costs nothing next to the load itself.
const refreshEvery = 200 * time.Millisecond

// ShowBars draws per-hotel progress bars (rooms acknowledged / assigned)
// and a status line on w, a terminal, until the returned stop is called.
func ShowBars(r *client.Runner, w io.Writer) (stop func()) {
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(refreshEvery))

	var snap atomic.Pointer[client.Snapshot] // read by decorators on mpb's goroutine
	first := r.Snapshot()
	snap.Store(&first)

	targets := r.Targets()
	bars := make([]*mpb.Bar, len(targets))
	for i, t := range targets {
		label := fmt.Sprintf("event %d hotel %d", t.EventID, t.HotelID)
		bars[i] = p.New(max(t.Assigned, 1), mpb.BarStyle().Lbound("[").Filler("█").Tip("█").Padding("░").Rbound("]"),
			mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				s := snap.Load()
				text := fmt.Sprintf("%d/%d booked", s.Acknowledged[i], t.Assigned)
				switch {
				case s.Acknowledged[i] > t.Assigned:
					text += "  OVERBOOKED"
				case s.SoldOut[i]:
					text += "  sold out"
				}
				return text
			})),
		)
	}
	status := p.New(1, mpb.NopStyle(), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
		return statusLine(*snap.Load())
	})))

	// update takes a snapshot and moves the bars to it, short of full by
	// short: a full bar is complete for mpb and would stop redrawing its
	// numbers, so they stay one short until the end.
	update := func(short int64) {
		s := r.Snapshot()
		snap.Store(&s)
		for i, b := range bars {
			b.SetCurrent(min(s.Acknowledged[i], targets[i].Assigned-short))
		}
	}
	stopTicks := every(refreshEvery, func() { update(1) })
	return func() {
		stopTicks()
		update(0)
		for _, b := range bars {
			if !b.Completed() {
				// Cut short (Ctrl-C, --timeout): the bar stays where the
				// hotel is. Completing it would draw it full.
				b.Abort(false)
			}
		}
		status.Abort(false)
		p.Wait()
	}
}

// ShowLines prints one plain status line every second on w (for logs and
// pipes, where bars would be noise), until the returned stop is called.
func ShowLines(r *client.Runner, w io.Writer) (stop func()) {
	return every(time.Second, func() {
		s := r.Snapshot()
		var hotels []string
		for i, t := range r.Targets() {
			hotels = append(hotels, fmt.Sprintf("%d/%d", s.Acknowledged[i], t.Assigned))
		}
		fmt.Fprintf(w, "evento: %s  rooms booked %s\n", statusLine(s), strings.Join(hotels, " "))
	})
}

// every calls f every d until the returned stop, which waits for a call
// under way to end.
func every(d time.Duration, f func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(d)
		defer ticker.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ticker.C:
				f()
			}
		}
	}()
	return func() { close(quit); <-done }
}

func statusLine(s client.Snapshot) string {
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.Requests) / secs
	}
	return fmt.Sprintf("%5.1fs  %6.0f req/s  %d reservations  %d conflicts  %d errors  %d unknown",
		s.Elapsed.Seconds(), rate, s.Success, s.Conflicts, s.Errors, s.Unknown)
}
