package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
)

// Meta describes the run a report is about.
type Meta struct {
	Strategy   string
	Clients    int
	Servers    int
	Route      client.Route // how the clients spread requests over the servers
	Seed       uint64
	Think      client.Range
	Rate       float64 // open model's arrivals a second (client.Config.Rate)
	VerifiedBy string  // "database" or "api"
	Auth       string  // how the servers knew the clients; "" when not ours to say
	// LoadPeakMemoryBytes is the peak resident memory of the process that
	// ran the clients (lab/cluster.PeakRSSBytes); 0 when unknown.
	LoadPeakMemoryBytes int64
	// DatabaseKind is SingleServer or ReplicatedPair, with the pair's
	// Durability (localpg.Durabilities); "" when the lab cannot know
	// (evento load, which sees only the servers).
	DatabaseKind, Durability string
}

// Report is the outcome of a run: what the clients saw, what the database
// holds, and the verdict that compares them.
type Report struct {
	Strategy string `json:"strategy"`
	Clients  int    `json:"clients"`
	Servers  int    `json:"servers"`
	// Route is how the clients spread their requests over the servers;
	// empty for round-robin, the default.
	Route string `json:"route,omitempty"`
	Seed  uint64 `json:"seed"`
	Think string `json:"think"`
	// Rate is the open model's arrivals a second; 0 in the closed model.
	Rate       float64 `json:"rate,omitempty"`
	VerifiedBy string  `json:"verified_by"`
	Auth       string  `json:"auth,omitempty"`
	// DatabaseKind is what the run's PostgreSQL was: SingleServer, or
	// ReplicatedPair (--ha) with its Durability; a loss of acknowledged
	// bookings means something else on each.
	DatabaseKind          string               `json:"database_kind,omitempty"`
	Durability            string               `json:"durability,omitempty"`
	EventIDs              []int64              `json:"event_ids"`
	Hotels                []HotelReport        `json:"hotels"`
	Totals                HotelReport          `json:"totals"`
	Verdict               string               `json:"verdict"`
	Completed             bool                 `json:"completed"`
	ClientsGaveUp         int64                `json:"clients_gave_up"`
	Holds                 HoldsReport          `json:"holds"`
	HeldRoomsLeaked       int64                `json:"held_rooms_leaked"`
	Replayed              int64                `json:"idempotent_replays"`
	Requests              client.RequestCounts `json:"requests"`
	Unknown               UnknownCounts        `json:"unknown"`
	StartedAt             time.Time            `json:"started_at"`
	ElapsedSeconds        float64              `json:"elapsed_seconds"`
	SelloutSeconds        *float64             `json:"sellout_seconds"`
	ReservationsPerSecond float64              `json:"reservations_per_second"`
	LatencyMs             client.LatencyMs     `json:"latency_ms"`
	LoadPeakMemoryMB      float64              `json:"load_peak_memory_mb"`
	// Server is what the servers counted during the run (from their
	// /metrics); absent when they could not be read.
	Server *ServerStats `json:"server,omitempty"`
	// Database is PostgreSQL's client backends on the run's database
	// while the clients ran, sampled from pg_stat_activity; absent when
	// no sample answered.
	Database *DatabaseStats `json:"database,omitempty"`
	// Faults the nemesis injected, each with when it started and healed
	// (--faults); absent in a fair-weather run.
	Faults []nemesis.Event `json:"faults,omitempty"`
	// FaultWindows is what the clients met in each fault's window.
	FaultWindows []FaultWindow `json:"fault_windows,omitempty"`
	// Timeline is the run second by second: bookings, conflicts, errors.
	Timeline  []client.Second `json:"timeline"`
	Anomalies []string        `json:"anomalies"`
	Notes     []string        `json:"notes"`
}

// HotelReport is one hotel's line of the report (or the totals line).
type HotelReport struct {
	EventID      int64  `json:"event_id,omitempty"`
	HotelID      int64  `json:"hotel_id,omitempty"`
	Name         string `json:"name,omitempty"`
	Assigned     int64  `json:"assigned"`
	Reserved     int64  `json:"reserved"`
	Locked       int64  `json:"locked"`
	Booked       int64  `json:"booked"`
	Acknowledged int64  `json:"acknowledged"`
	Unknown      int64  `json:"unknown"`
	SoldOut      bool   `json:"sold_out"`
	Verdict      string `json:"verdict"`
}

// HoldsReport counts the events' holds by fate, from the database, and
// what the clients did with theirs.
type HoldsReport struct {
	checker.HoldCounts
	Clients client.ClientHolds `json:"clients"`
}

// UnknownCounts are reserves whose outcome the clients could not know.
// Requests and Rooms are those still unknown once the lab asked the
// database about each keyed one (client.Result.Resolve); Resolved* count
// those it settled, and Why says why the rest could not be.
type UnknownCounts struct {
	Requests          int64  `json:"requests"`
	Rooms             int64  `json:"rooms"`
	ResolvedBooked    int64  `json:"resolved_booked"`
	ResolvedNotBooked int64  `json:"resolved_not_booked"`
	Why               string `json:"why,omitempty"`
}

// Build lays out a run the checker has judged: the clients' result, the
// checker's verdict on every hotel, and the totals and rates derived from
// them.
func Build(meta Meta, res client.Result, checked checker.Result) Report {
	r := Report{
		Strategy: meta.Strategy, Clients: meta.Clients, Servers: meta.Servers, Route: RouteNote(meta.Route), Seed: meta.Seed,
		Think: meta.Think.String(), VerifiedBy: meta.VerifiedBy, Auth: meta.Auth, Rate: meta.Rate,
		DatabaseKind: meta.DatabaseKind, Durability: meta.Durability,
		Completed: res.Completed, ClientsGaveUp: res.GaveUp, Requests: res.Requests, Replayed: res.Replayed,
		Unknown: UnknownCounts{Requests: res.UnknownRequests,
			ResolvedBooked: res.Resolution.Booked, ResolvedNotBooked: res.Resolution.NotBooked, Why: res.Resolution.Why}, Holds: HoldsReport{Clients: res.Holds},
		StartedAt: res.Started, ElapsedSeconds: res.Elapsed.Seconds(), LatencyMs: res.Latency, Verdict: checked.Verdict,
		LoadPeakMemoryMB: float64(meta.LoadPeakMemoryBytes) / (1 << 20),
		Timeline:         append([]client.Second{}, res.Seconds...),
		Anomalies:        append([]string{}, checked.Anomalies...),
		Notes:            append([]string{}, checked.Notes...),
		Totals:           HotelReport{Name: "total", Verdict: checked.Verdict},
	}
	allSoldOut := true
	var sellout float64
	for _, hotel := range checked.Hotels {
		t, o := hotel.Ledger, hotel.Seen
		if len(r.EventIDs) == 0 || r.EventIDs[len(r.EventIDs)-1] != t.EventID {
			r.EventIDs = append(r.EventIDs, t.EventID)
		}
		h := HotelReport{
			EventID: t.EventID, HotelID: t.HotelID, Name: t.Name,
			Assigned: o.Assigned, Reserved: o.Reserved, Locked: o.Locked, Booked: o.Booked,
			Acknowledged: t.Acknowledged, Unknown: t.Unknown,
			SoldOut: o.Booked+o.Locked >= o.Assigned, Verdict: hotel.Verdict,
		}
		r.Hotels = append(r.Hotels, h)
		r.Totals.Assigned += h.Assigned
		r.Totals.Reserved += h.Reserved
		r.Totals.Locked += h.Locked
		r.Totals.Booked += h.Booked
		r.Totals.Acknowledged += h.Acknowledged
		r.Totals.Unknown += h.Unknown
		r.Unknown.Rooms += t.Unknown
		r.HeldRoomsLeaked += o.LeakedRooms()
		r.Holds.Placed += o.Holds.Placed
		r.Holds.Confirmed += o.Holds.Confirmed
		r.Holds.Released += o.Holds.Released
		r.Holds.Expired += o.Holds.Expired
		r.Holds.ActiveAtEnd += o.Holds.ActiveAtEnd
		allSoldOut = allSoldOut && t.SoldOutAfter != 0
		sellout = max(sellout, t.SoldOutAfter.Seconds())
	}
	r.Totals.SoldOut = r.Totals.Booked+r.Totals.Locked >= r.Totals.Assigned
	window := r.ElapsedSeconds
	if allSoldOut {
		r.SelloutSeconds = &sellout
		window = sellout
	}
	if window > 0 {
		r.ReservationsPerSecond = float64(res.Requests.Success) / window
	}
	if r.SelloutSeconds != nil && !r.Totals.SoldOut && r.Holds.Expired > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf(
			"%s free at the end: abandoned holds expired after the clients had seen the hotels sold out and stopped",
			plural(int(r.Totals.Assigned-r.Totals.Booked-r.Totals.Locked), "room")))
	}
	if meta.VerifiedBy == "api" {
		r.Notes = append(r.Notes, "verified through the API only: booked is the counter, so a lost update shows only as fewer rooms than were acknowledged; give DATABASE_URL to compare with the reservation rows")
	}
	return r
}

// WriteJSON writes the report as one JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table a person reads.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "strategy %s: %s, %s%s, think %s, seed %d\n",
		r.Strategy, plural(r.Clients, "client"), plural(r.Servers, "server"), routedBy(r.Route), r.Think, r.Seed)
	if line := databaseLine(r.DatabaseKind, r.Durability); line != "" {
		fmt.Fprintf(&b, "database: %s\n", line)
	}
	if r.Auth != "" {
		fmt.Fprintf(&b, "servers' auth %s\n", r.Auth)
	}
	b.WriteString("\n")
	if r.Replayed > 0 {
		fmt.Fprintf(&b, "(%d answers replayed from idempotency keys: outcomes that would otherwise have stayed unknown)\n\n", r.Replayed)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "event\thotel\tassigned\treserved\tbooked\tacknowledged\tunknown\tverdict\t")
	line := func(event, hotel string, h HotelReport) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n",
			event, hotel, h.Assigned, h.Reserved, h.Booked, h.Acknowledged, h.Unknown, h.Verdict)
	}
	for _, h := range r.Hotels {
		line(fmt.Sprint(h.EventID), fmt.Sprint(h.HotelID), h)
	}
	line("total", "", r.Totals)
	tw.Flush()

	fmt.Fprintf(&b, "\nverdict: %s\n", strings.ToUpper(r.Verdict))
	for _, a := range r.Anomalies {
		fmt.Fprintf(&b, "  - %s\n", a)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if h := r.Holds; h.Placed > 0 {
		fmt.Fprintf(&b, "holds: %d placed, %d confirmed, %d released, %d expired (%d walked away from), %d active at end; held rooms leaked: %d\n",
			h.Placed, h.Confirmed, h.Released, h.Expired, h.Clients.Abandoned, h.ActiveAtEnd, r.HeldRoomsLeaked)
	}
	q := r.Requests
	cancelled := ""
	if q.Cancelled > 0 {
		cancelled = fmt.Sprintf(", %d cut off by the run's end", q.Cancelled)
	}
	fmt.Fprintf(&b, "\nrequests: %d reservations made, %d conflicts, %d insufficient, %d sold out, %d errors%s, %d retries, %d availability checks, %d unknown outcomes (%s)\n",
		q.Success, q.Conflict, q.Insufficient, q.SoldOut, q.Error, cancelled, q.Retries, q.Checks, r.Unknown.Requests, plural(int(r.Unknown.Rooms), "room"))
	sellout := "did not sell out"
	switch {
	case r.SelloutSeconds != nil && r.Totals.SoldOut:
		sellout = fmt.Sprintf("sold out in %.2fs", *r.SelloutSeconds)
	case r.SelloutSeconds != nil:
		sellout = fmt.Sprintf("clients saw every hotel sold out after %.2fs, then expired holds gave rooms back", *r.SelloutSeconds)
	}
	fmt.Fprintf(&b, "time: %s, %.1f reservations/s, run %.2fs\n", sellout, r.ReservationsPerSecond, r.ElapsedSeconds)
	l, from := r.LatencyMs, ""
	if r.Rate > 0 {
		fmt.Fprintf(&b, "open model: %g bookings a second arriving; %d started over 10 ms late, %d skipped (no client free within 1 s)\n",
			r.Rate, q.Late, q.Skipped)
		from = " from the intended start"
	}
	fmt.Fprintf(&b, "reserve latency%s: p50 %.1fms, p90 %.1fms, p99 %.1fms, max %.1fms\n", from, l.P50, l.P90, l.P99, l.Max)
	fmt.Fprintf(&b, "load process peak memory: %.0f MB\n", r.LoadPeakMemoryMB)
	if s := r.Server; s != nil && (s.Reruns > 0 || s.Batches > 0) {
		fmt.Fprintf(&b, "servers: %.0f transactions rerun after losing to a concurrent one; %.0f batches, %.1f requests each on average\n",
			s.Reruns, s.Batches, s.MeanBatchSize())
	}
	if d := r.Database; d != nil {
		via := "the servers'"
		if d.PgBouncerPool > 0 {
			via = fmt.Sprintf("through PgBouncer, whose pool is %d", d.PgBouncerPool)
		}
		fmt.Fprintf(&b, "database: peak %d client backends (at most %d the lab's own, %d %s)\n",
			d.PeakClientBackends, d.PeakLabBackends, d.PeakOtherBackends, via)
	}
	writeFaults(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// SetFaults records the faults a run met, and what the clients met in each
// one's window (from attempts: the run's history).
func (r *Report) SetFaults(faults []nemesis.Event, attempts []client.Attempt) {
	r.Faults = faults
	r.FaultWindows = faultWindows(r.StartedAt, faults, attempts)
}

// writeFaults lists the nemesis's faults, relative to the run's start.
func writeFaults(b *strings.Builder, r Report) {
	if len(r.Faults) == 0 {
		return
	}
	fmt.Fprintf(b, "faults: %d injected, every one healed before the verdict\n", len(r.Faults))
	for i, f := range r.Faults {
		line := fmt.Sprintf("  %6.2fs %s", f.Start.Sub(r.StartedAt).Seconds(), f.Fault)
		if f.Target != "" {
			line += " (" + f.Target + ")"
		}
		if d := f.Heal.Sub(f.Start); d > 0 {
			line += fmt.Sprintf(", healed after %.2fs", d.Seconds())
		}
		if f.Error != "" {
			line += ": " + f.Error
		}
		if i < len(r.FaultWindows) {
			w := r.FaultWindows[i]
			line += fmt.Sprintf("; until the next: %d ok, %d fail, %d info attempts, %d errors", w.OK, w.Fail, w.Info, w.Errors)
			if w.Errors > 0 {
				line += fmt.Sprintf(", error-free %.2fs after the heal", max(w.RecoverySeconds, 0))
			}
		}
		fmt.Fprintln(b, line)
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ServerStats is what the servers counted that the clients cannot see,
// summed over every server from their /metrics (lab/cluster scrapes them).
type ServerStats struct {
	// Reruns are transactions rerun inside the servers, by the strategies
	// whose db.Strategy.Attempts is above 1, before anything reached the
	// client.
	Reruns float64 `json:"reruns"`
	// Batches and BatchedRequests describe group commit (batched).
	Batches         float64 `json:"batches"`
	BatchedRequests float64 `json:"batched_requests"`
}

// DatabaseStats are the peaks of PostgreSQL's client backends during a
// run (lab/cluster samples pg_stat_activity every 100 ms), each its own
// maximum: the lab's and the others' peaks may fall in different samples.
type DatabaseStats struct {
	PeakClientBackends int `json:"peak_client_backends"`
	// PeakLabBackends are the lab's own direct sessions (seeding,
	// reading, sampling); PeakOtherBackends the rest: the servers', or
	// PgBouncer's on their behalf.
	PeakLabBackends   int `json:"peak_lab_backends"`
	PeakOtherBackends int `json:"peak_other_backends"`
	// PgBouncerPool is PgBouncer's default_pool_size; 0 without PgBouncer.
	PgBouncerPool int `json:"pgbouncer_pool,omitempty"`
	Samples       int `json:"samples"`
}

// MeanBatchSize is requests per batch; 0 without batches.
func (s ServerStats) MeanBatchSize() float64 {
	if s.Batches == 0 {
		return 0
	}
	return s.BatchedRequests / s.Batches
}

// RouteNote is a route as a report keeps it: only when it is not the
// default round-robin.
func RouteNote(route client.Route) string {
	if route == client.RoundRobin {
		return ""
	}
	return string(route)
}

// routedBy is the servers' line's note of a route other than round-robin.
func routedBy(route string) string {
	if route == "" {
		return ""
	}
	return ", routed by " + route
}
