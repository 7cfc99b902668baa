package lab

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/report"
)

// CheckConfig is evento check: the histories of several load generators
// that booked one event, judged as one run against the database.
type CheckConfig struct {
	EventID int64
	Paths   []string // --history files, each from one evento load
	// Complete says the histories are every client that booked the event:
	// a reservation no history claims is then a phantom booking, not
	// someone else's.
	Complete bool
}

// NoSuchEventError is an event the database does not have.
type NoSuchEventError struct{ EventID int64 }

func (e *NoSuchEventError) Error() string {
	return fmt.Sprintf("the database has no event %d", e.EventID)
}

// CheckHistories merges the histories and judges the event as one run:
// the room counts and invariants per hotel, and every keyed answer against
// what its key stores. Rows no history claims were booked by someone else
// (before the loads, or by a client whose history was not given), and are
// left out of the comparison, unless cfg.Complete. A history that cannot
// be judged is a *HistoryError.
func CheckHistories(ctx context.Context, pool *pgxpool.Pool, cfg CheckConfig) (report.Report, error) {
	if len(cfg.Paths) == 0 {
		return report.Report{}, errors.New("no history to check")
	}
	histories, err := readHistories(cfg.Paths, cfg.EventID)
	if err != nil {
		return report.Report{}, err
	}
	observed, err := observeDatabase(pool, []int64{cfg.EventID})(ctx)
	if err != nil {
		return report.Report{}, err
	}
	if len(observed) == 0 {
		return report.Report{}, &NoSuchEventError{EventID: cfg.EventID}
	}
	targets := make([]client.Target, len(observed))
	hotels := map[int64]bool{}
	for i, o := range observed {
		targets[i] = client.Target{EventID: o.EventID, HotelID: o.HotelID, Assigned: o.Assigned}
		hotels[o.HotelID] = true
	}
	for _, h := range histories {
		for _, a := range h.lines {
			if !hotels[a.Hotel] {
				return report.Report{}, &HistoryError{Path: h.path, Reason: fmt.Sprintf(
					"request %s booked at hotel %d, which event %d does not have in this database (is it the servers' database?)", a.Request, a.Hotel, cfg.EventID)}
			}
		}
	}
	m := mergeHistories(histories)
	res, unscoped := m.ledger(targets)
	// A request whose answer was lost may have booked: its key says so. A
	// key holding no booking stays unknown, since check cannot know that no
	// server still holds such a request.
	if err := resolveUnknowns(ctx, pool, &res, nil); err != nil {
		return report.Report{}, err
	}

	claimed, err := claimedReservations(ctx, pool, m, res, observed)
	if err != nil {
		return report.Report{}, err
	}
	unsent, err := addUnsentKeys(ctx, pool, m, observed)
	if err != nil {
		return report.Report{}, err
	}
	for _, id := range unsent {
		claimed[id] = true
	}
	others, otherRooms := leaveOutUnclaimed(observed, claimed, cfg.Complete)
	checked, err := checker.Check(res, observed)
	if err != nil {
		return report.Report{}, err
	}
	strategies := []string{}
	clients, seed := 0, m.runs[0].Seed
	for _, run := range m.runs {
		if !slices.Contains(strategies, run.Strategy) {
			strategies = append(strategies, run.Strategy)
		}
		clients += run.Clients
		if run.Seed != seed {
			seed = 0
		}
	}
	r := report.Build(report.Meta{
		Strategy: strings.Join(strategies, ","), Clients: clients, Servers: m.servers, Seed: seed,
		VerifiedBy: "database (merged histories)",
	}, res, checked)
	r.Notes = append([]string{fmt.Sprintf("merged %d histories of event %d: %s", len(m.runs), cfg.EventID, describeRuns(histories))}, r.Notes...)
	switch {
	case others > 0 && cfg.Complete:
		r.Notes = append(r.Notes, fmt.Sprintf(
			"%d reservations (%d rooms) are claimed by no history; with --complete they count against the ledger", others, otherRooms))
	case others > 0:
		r.Notes = append(r.Notes, fmt.Sprintf(
			"%d reservations (%d rooms) of event %d are claimed by no history: booked by someone else (before these loads, or by a client whose history was not given), so left out of the comparison; pass --complete if these histories are every client that booked the event, to count them as phantom bookings",
			others, otherRooms, cfg.EventID))
	}
	if unscoped > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf(
			"%d keyed requests were sent with an API key whose client their evento load could not name (no DATABASE_URL), so their keys as stored are unknown and were not checked one by one", unscoped))
	}
	r.SetFaults(m.faults, m.attempts)
	return r, nil
}

// claimedReservations are the reservations some history accounts for: the
// ones ok attempts were told, and the ones stored under any history's key,
// settled or not (a lost request that did book claims its row). It also
// gives each hotel its settled keys' stored reservations, for the per-key
// check.
func claimedReservations(ctx context.Context, pool *pgxpool.Pool, m merged, res client.Result, observed []checker.Observed) (map[int64]bool, error) {
	claimed := map[int64]bool{}
	keys := map[string]bool{}
	for _, a := range m.attempts {
		if k := a.KeyAsStored(); k != "" && !m.unscoped[k] && a.Books() {
			keys[k] = true
		}
	}
	for _, t := range res.Targets {
		for id := range t.Reservations {
			claimed[id] = true
		}
	}
	stored, err := addKeyedReservations(ctx, pool, slices.Collect(maps.Keys(keys)), res, observed)
	if err != nil {
		return nil, err
	}
	for _, id := range stored {
		claimed[id] = true
	}
	return claimed, nil
}

// addUnsentKeys finds the bookings stored under a key of one of the
// merged runs (its run id, drawn at random by each load, prefixes every
// key its clients send) that no attempt of the histories sent: its clients'
// keys, so no one else's booking, and no line of the history tells of it
// (a phantom, or a line the history lost). Each hotel gets those of its
// rows (Observed.UnsentKeys); it returns their reservations, which the
// histories claim.
func addUnsentKeys(ctx context.Context, pool *pgxpool.Pool, m merged, observed []checker.Observed) ([]int64, error) {
	sent := map[string]bool{}
	for _, a := range m.attempts {
		if k := a.KeyAsStored(); k != "" {
			sent[k] = true
		}
		sent[a.Key] = true
	}
	hotel := map[int64]int{}
	for i, o := range observed {
		for id := range o.Rows {
			hotel[id] = i
		}
	}
	var ids []int64
	for _, run := range m.runs {
		stored, err := labdb.KeyedReservationsWithPrefix(ctx, pool, run.RunID+"-")
		if err != nil {
			return nil, err
		}
		for key, id := range stored {
			i, ok := hotel[id]
			if sent[key] || !ok {
				continue
			}
			if observed[i].UnsentKeys == nil {
				observed[i].UnsentKeys = map[string]int64{}
			}
			observed[i].UnsentKeys[key] = id
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// leaveOutUnclaimed counts the reservations no history claims, and unless
// complete leaves them out of the comparison as someone else's.
func leaveOutUnclaimed(observed []checker.Observed, claimed map[int64]bool, complete bool) (others, otherRooms int64) {
	for i := range observed {
		o := &observed[i]
		var rooms int64
		for id, n := range o.Rows {
			if !claimed[id] {
				others++
				rooms += n
			}
		}
		otherRooms += rooms
		if !complete {
			// Judged as evento load judges an event that was not fresh
			// (checker.Since): on the rows the histories account for. The
			// counter is taken to have counted the others too, so the
			// counter invariant still holds the whole hotel to its rows.
			o.BookedBefore, o.ReservedBefore = rooms, rooms
		}
	}
	return others, otherRooms
}
