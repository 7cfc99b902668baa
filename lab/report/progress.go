package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
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
	ctx, cancel := context.WithCancel(context.Background())
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(refreshEvery))

	var mu sync.Mutex // guards snap, read by decorators on mpb's goroutine
	snap := r.Snapshot()
	current := func() client.Snapshot { mu.Lock(); defer mu.Unlock(); return snap }

	targets := r.Targets()
	bars := make([]*mpb.Bar, len(targets))
	for i, t := range targets {
		label := fmt.Sprintf("event %d hotel %d", t.EventID, t.HotelID)
		bars[i] = p.New(max(t.Assigned, 1), mpb.BarStyle().Lbound("[").Filler("█").Tip("█").Padding("░").Rbound("]"),
			mpb.PrependDecorators(decor.Name(label, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
				s := current()
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
		s := current()
		return statusLine(s)
	})))

	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(refreshEvery)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			s := r.Snapshot()
			mu.Lock()
			snap = s
			mu.Unlock()
			for i, b := range bars {
				// Stay one short of full until the end: a full bar is
				// complete for mpb and would stop redrawing its numbers.
				b.SetCurrent(min(s.Acknowledged[i], targets[i].Assigned-1))
			}
		}
	}()

	return func() {
		cancel()
		<-done
		s := r.Snapshot()
		mu.Lock()
		snap = s
		mu.Unlock()
		for i, b := range bars {
			b.SetCurrent(min(s.Acknowledged[i], targets[i].Assigned))
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(time.Second)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				s := r.Snapshot()
				var hotels []string
				for i, t := range r.Targets() {
					hotels = append(hotels, fmt.Sprintf("%d/%d", s.Acknowledged[i], t.Assigned))
				}
				fmt.Fprintf(w, "evento: %s  rooms booked %s\n", statusLine(s), strings.Join(hotels, " "))
			}
		}
	}()
	return func() { cancel(); <-done }
}

func statusLine(s client.Snapshot) string {
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.Requests) / secs
	}
	return fmt.Sprintf("%5.1fs  %6.0f req/s  %d reservations  %d conflicts  %d errors  %d unknown",
		s.Elapsed.Seconds(), rate, s.Success, s.Conflicts, s.Errors, s.Unknown)
}
