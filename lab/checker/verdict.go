package checker

import (
	"fmt"
	"slices"
	"strings"

	"github.com/evento-lab/evento/lab/client"
)

// Verdicts, from the database and the clients' ledger, never from the
// strategy's name.
const (
	Consistent   = "consistent"   // booked == reserved <= assigned, and the ledger agrees
	Overbooked   = "overbooked"   // more rooms booked than the hotel has
	Inconsistent = "inconsistent" // any other disagreement
	// Inconclusive: nothing disagrees, but the run did not finish (timeout,
	// interrupt) or clients gave up after repeated errors, so it proved
	// little. --expect consistent fails on it.
	Inconclusive = "inconclusive"
	// ServerErrors: nothing disagrees, but servers answered 500: the API
	// promises a 503 (or a 504 for a write whose outcome is unknown) for
	// every fault, so a 500 is a bug that the rooms alone do not show.
	// --expect consistent fails on it.
	ServerErrors = "server-errors"
)

// Verdicts lists every verdict, for what must name each one (the compare
// page's colours).
func Verdicts() []string {
	return []string{Consistent, Overbooked, Inconsistent, Inconclusive, ServerErrors}
}

// Observed is what the system of record holds for one hotel after a run.
type Observed struct {
	EventID  int64
	HotelID  int64
	Assigned int64
	Reserved int64 // the counter
	Locked   int64
	// Booked is the sum of the reservation rows; Rows lists them. Both are
	// known only when the database itself is read (Rows == nil otherwise,
	// and Booked then repeats the counter, the best the API can tell).
	Booked int64
	Rows   map[int64]int64
	// BookedBefore and ReservedBefore are the rows and the counter when the
	// load began (evento load on an event that is not fresh): the run is
	// judged on what changed since, not on what it found.
	BookedBefore   int64
	ReservedBefore int64
	// OthersBooked is the rooms of the live rows that clients other than
	// the run's own booked (evento load with an API key and the database):
	// LeaveOutOthers judges them as someone else's.
	OthersBooked int64
	// LiveHeldRooms are the rooms of holds still alive (database only):
	// locked beyond them is held by dead holds, i.e. leaked.
	LiveHeldRooms int64
	Holds         HoldCounts
	// KeyedReservations maps each idempotency key of the ledger that holds
	// a booking to its reservation (database only; nil otherwise): the
	// exact, per-request check of what each client was told.
	KeyedReservations map[string]int64
	// UnsentKeys are the bookings of this hotel stored under a key of the
	// run's own clients (its run id prefixes them) that no request of the
	// ledger sent (evento check, from the database): key -> reservation.
	UnsentKeys map[string]int64
	// PrimaryChanged: the database got a new primary during the run
	// (--ha's failover faults), whose sequence may have handed out again
	// ids the old one had told clients. A key that stores nothing while
	// the id it was told belongs to another booking is then a lost
	// booking, not a shared reservation.
	PrimaryChanged bool
}

// HoldCounts counts an event's holds by fate, as the database records
// them; a 'held' hold past expiry is expired.
type HoldCounts struct {
	Placed      int64 `json:"placed"`
	Confirmed   int64 `json:"confirmed"`
	Released    int64 `json:"released"`
	Expired     int64 `json:"expired"`
	ActiveAtEnd int64 `json:"active_at_end"`
}

// LeakedRooms are rooms still locked by holds that are no longer alive.
func (o Observed) LeakedRooms() int64 {
	if o.Rows == nil {
		return 0
	}
	return o.Locked - o.LiveHeldRooms
}

// judgement is the verdict on one hotel and the anomalies behind it.
type judgement struct {
	verdict   string
	anomalies []string
	notes     []string
}

// judge compares one hotel's ledger with what the database holds: a
// correct system has acknowledged <= booked <= acknowledged + unknown.
func judge(ledger client.TargetResult, seen Observed) judgement {
	var j judgement
	where := fmt.Sprintf("hotel %d (event %d)", seen.HotelID, seen.EventID)
	bookedNow := seen.Booked - seen.BookedBefore
	// Booked for sure: what clients were told, and what the database shows
	// booked under the keys of requests whose answers never came.
	sure := ledger.Acknowledged + ledger.ResolvedBooked
	grewPastCapacity := seen.Booked > seen.Assigned && bookedNow > 0
	// Rooms told to clients whose reservation is gone (a failover that
	// promoted a standby without it) may have been sold again: that is a
	// loss, named below, not an overbooking.
	lost := lostAcknowledged(ledger, seen)
	acknowledgedPastCapacity := ledger.Acknowledged > 0 && ledger.Acknowledged-lost.idRooms+seen.BookedBefore > seen.Assigned
	overbooked := grewPastCapacity || acknowledgedPastCapacity
	switch {
	case grewPastCapacity:
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"overbooked: %s has %d rooms booked of %d assigned (%d too many)",
			where, seen.Booked, seen.Assigned, seen.Booked-seen.Assigned))
	case acknowledgedPastCapacity:
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"overbooked: clients were told %d rooms at %s are theirs, but it has %d",
			ledger.Acknowledged, where, seen.Assigned))
	}
	if reservedNow := seen.Reserved - seen.ReservedBefore; seen.Rows != nil && bookedNow != reservedNow {
		kind := "counter drift: "
		if bookedNow > reservedNow {
			kind = "lost update: "
		}
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"%sat %s the counter says %d but %d rooms are booked in reservations",
			kind, where, seen.Reserved, seen.Booked))
	}
	if seen.Reserved+seen.Locked > seen.Assigned && seen.Reserved > seen.ReservedBefore {
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"counter over capacity: at %s reserved %d + locked %d exceeds %d assigned",
			where, seen.Reserved, seen.Locked, seen.Assigned))
	}
	if seen.Rows != nil {
		j.anomalies = append(j.anomalies, lost.anomalies(where)...)
		j.anomalies = append(j.anomalies, missingAcknowledged(ledger, seen, where, lost.told)...)
	}
	if seen.KeyedReservations != nil {
		j.anomalies = append(j.anomalies, untrueAnswers(ledger, seen, where)...)
	}
	j.anomalies = append(j.anomalies, doubleBookings(ledger, seen, where, lost.told)...)
	if len(seen.UnsentKeys) > 0 {
		// Not someone else's: the keys are the run's own clients'. Unknown
		// rooms elsewhere cannot cover them, as they can in the counts.
		var unsent []string
		for key, id := range seen.UnsentKeys {
			unsent = append(unsent, fmt.Sprintf("%s (reservation %d)", key, id))
		}
		j.anomalies = appendNamed(j.anomalies,
			"phantom booking: at %s %d reservations are stored under keys of the histories' own clients that no request in them sent: %s",
			where, unsent)
	}
	if leaked := seen.LeakedRooms(); leaked != 0 {
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"held rooms leaked: at %s %d rooms stay locked but only %d are in live holds",
			where, seen.Locked, seen.LiveHeldRooms))
	}
	if seen.Rows == nil && bookedNow < sure {
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"lost update (seen through the API): at %s the counter grew by %d but clients were told %d rooms are theirs",
			where, bookedNow, sure))
	}
	if seen.Rows != nil && bookedNow+lost.idRooms < sure {
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"lost booking: at %s clients were told %d rooms are theirs (and %d more are booked under the keys of unanswered requests), but only %d were booked",
			where, ledger.Acknowledged, ledger.ResolvedBooked, bookedNow))
	}
	if bookedNow > sure+ledger.Unknown {
		j.anomalies = append(j.anomalies, fmt.Sprintf(
			"phantom booking: at %s %d rooms were booked that no client was told about (acknowledged %d, booked under unanswered keys %d, unknown %d)",
			where, bookedNow-sure-ledger.Unknown, ledger.Acknowledged, ledger.ResolvedBooked, ledger.Unknown))
	}

	switch {
	case overbooked:
		j.verdict = Overbooked
	case len(j.anomalies) > 0:
		j.verdict = Inconsistent
	default:
		j.verdict = Consistent
		if ledger.Unknown > 0 {
			j.notes = append(j.notes, fmt.Sprintf(
				"at %s %d rooms had unknown outcomes; the verdict accepts anything from %d to %d booked",
				where, ledger.Unknown, sure, sure+ledger.Unknown))
		}
	}
	return j
}

// untrueAnswers holds every keyed answer against what its key stores: a
// request told "nothing was booked" (a 503, a refusal, never sent) must
// have no booking under its key, and one told "booked" must find that very
// reservation there. Unlike the room counts, unknown outcomes elsewhere
// cannot hide a violation here. A few keys are named.
func untrueAnswers(ledger client.TargetResult, seen Observed, where string) []string {
	var denied, wrong []string
	for key, told := range ledger.Keyed {
		stored, booked := seen.KeyedReservations[key]
		switch {
		case told == 0 && booked:
			denied = append(denied, fmt.Sprintf("%s (reservation %d)", key, stored))
		case told != 0 && !booked && seen.Rows != nil && (seen.Rows[told] == 0 || seen.PrimaryChanged):
			// A lost acknowledged booking, named there.
		case told != 0 && stored != told:
			wrong = append(wrong, fmt.Sprintf("%s (told %d, stored %d)", key, told, stored))
		}
	}
	var anomalies []string
	anomalies = appendNamed(anomalies,
		"untrue answer: at %s %d requests were told nothing was booked, but their keys hold a booking: %s",
		where, denied)
	anomalies = appendNamed(anomalies,
		"untrue answer: at %s %d requests were told a reservation their keys do not hold: %s",
		where, wrong)
	return anomalies
}

// doubleBookings finds bookings counted once that are two, or two that
// are one, which the room counts can miss (the rows of a request booked
// twice pass for someone else's when no --complete says otherwise):
//   - a request told more than one reservation (a replayed history);
//   - a keyed request told one reservation while its key stores another,
//     both booked: its resend booked again;
//   - a reservation told to more than one booking.
//
// A few of each are named.
//
// lostTold counts, per reservation id, the lost bookings told it: an id
// the new primary of a failover handed out again was told twice, once to
// a booking that is gone, and is no shared reservation.
func doubleBookings(ledger client.TargetResult, seen Observed, where string, lostTold map[int64]int) []string {
	var twice []string
	for request, told := range ledger.Retold {
		twice = append(twice, fmt.Sprintf("%s (told %s)", request, joinIDs(told)))
	}
	for key, told := range ledger.Keyed {
		stored, ok := seen.KeyedReservations[key]
		if told != 0 && ok && stored != told && seen.Rows[told] > 0 && seen.Rows[stored] > 0 {
			twice = append(twice, fmt.Sprintf("%s (told %d, its key stores %d)", key, told, stored))
		}
	}
	var anomalies []string
	anomalies = appendNamed(anomalies,
		"double booking: at %s %d requests were booked twice, each holding two reservations: %s",
		where, twice)
	{
		var shared []string
		for id, n := range ledger.ToldTwice {
			if n -= lostTold[id]; n > 1 {
				shared = append(shared, fmt.Sprintf("%d (to %d bookings)", id, n))
			}
		}
		anomalies = appendNamed(anomalies,
			"shared reservation: at %s %d reservations were each told to more than one booking, which hold one booking's rooms between them: %s",
			where, shared)
	}
	return anomalies
}

// appendNamed appends to anomalies, when items is not empty, the anomaly
// format tells of: format takes where, how many items there are, and the
// first few of them in order.
func appendNamed(anomalies []string, format, where string, items []string) []string {
	if len(items) == 0 {
		return anomalies
	}
	slices.Sort(items)
	return append(anomalies, fmt.Sprintf(format, where, len(items), strings.Join(items[:min(len(items), 3)], ", ")))
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, " and ")
}

// lost is what lostAcknowledged found at one hotel.
type lost struct {
	bookings int           // acknowledged bookings that are gone
	rooms    int64         // their rooms, as told
	idRooms  int64         // the rooms of those whose id no row has (the counts' share)
	gone     int           // how many of ids no row has
	ids      []int64       // reservation ids told to them
	keys     []string      // their idempotency keys, which store nothing
	told     map[int64]int // per reservation id, how many of them were told it
}

// lostAcknowledged finds the acknowledged bookings that are gone: the
// client was told a reservation, and the database (read after every fault
// healed, on the current primary) has nothing under its key, or, for a
// booking sent without a key, no row of that id. A crash of one
// PostgreSQL cannot do this (its WAL has every commit it acknowledged); a
// failover to a standby that lacked the last commits can, and the new
// primary may then hand the lost ids out again, to other bookings: the
// key, not the id, is the proof. Nil Rows (the API only) finds nothing.
func lostAcknowledged(ledger client.TargetResult, seen Observed) lost {
	l := lost{told: map[int64]int{}}
	if seen.Rows == nil {
		return l
	}
	// An id told to a key that stores another booking is that answer's
	// untruth (named there), not a loss.
	untrue := map[int64]bool{}
	byKey := seen.KeyedReservations != nil
	if byKey {
		for key, told := range ledger.Keyed {
			if stored, ok := seen.KeyedReservations[key]; ok && told != 0 && stored != told {
				untrue[told] = true
			}
			_, stored := seen.KeyedReservations[key]
			_, reused := seen.Rows[told]
			if told != 0 && !stored && (!reused || seen.PrimaryChanged) {
				l.keys = append(l.keys, fmt.Sprintf("%s (told %d)", key, told))
				l.told[told]++
			}
		}
	}
	for id, rooms := range ledger.Reservations {
		_, ok := seen.Rows[id]
		if !ok {
			l.idRooms += rooms
			l.gone++
		}
		switch {
		case l.told[id] > 0:
			l.bookings += l.told[id]
			l.rooms += int64(l.told[id]) * rooms
			l.ids = append(l.ids, id)
		case !ok && !untrue[id]:
			// No key told it (sent without one), or its key's answer
			// was not recorded: the missing row is the loss.
			l.bookings++
			l.rooms += rooms
			l.ids = append(l.ids, id)
			l.told[id]++
		}
	}
	slices.Sort(l.ids)
	return l
}

func (l lost) anomalies(where string) []string {
	if l.bookings == 0 {
		return nil
	}
	a := fmt.Sprintf("lost acknowledged booking: at %s %d bookings (%d rooms) confirmed to clients are gone from the database (reservation ids %v",
		where, l.bookings, l.rooms, l.ids[:min(len(l.ids), 5)])
	if reused := len(l.ids) - l.gone; reused > 0 {
		a += fmt.Sprintf("; %d of them now another booking's, handed out again by the new primary", reused)
	}
	a += ")"
	if len(l.keys) > 0 {
		slices.Sort(l.keys)
		a += fmt.Sprintf("; %d idempotency keys told one of them store nothing: %s", len(l.keys), strings.Join(l.keys[:min(len(l.keys), 3)], ", "))
	}
	return []string{a}
}

// missingAcknowledged names acknowledged reservations the database lacks
// or holds with other rooms than the client was told, a few of them by id;
// those of lost acknowledged bookings (lostTold) are named there instead.
func missingAcknowledged(ledger client.TargetResult, seen Observed, where string, lostTold map[int64]int) []string {
	var missing []int64
	for id, rooms := range ledger.Reservations {
		if stored, ok := seen.Rows[id]; (ok && stored != rooms) || (!ok && lostTold[id] == 0) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	shown := missing[:min(len(missing), 5)]
	return []string{fmt.Sprintf(
		"acknowledged but not stored: at %s %d reservations confirmed to clients are missing or differ in the database (ids %v)",
		where, len(missing), shown)}
}

// Result is the verdict on a whole run and the findings behind it.
type Result struct {
	Hotels    []Hotel // one per target, in the ledger's order
	Verdict   string  // the worst hotel's, or Inconclusive
	Anomalies []string
	Notes     []string
}

// Hotel is one hotel's ledger, what was observed of it, and its verdict.
type Hotel struct {
	Ledger  client.TargetResult
	Seen    Observed
	Verdict string
}

// Check judges a run: every hotel's ledger against what was observed of
// it (observed must hold one entry per target). A run with no anomaly that
// was cut short, or whose clients gave up, is inconclusive: it proved little.
func Check(res client.Result, observed []Observed) (Result, error) {
	seen := map[[2]int64]Observed{}
	for _, o := range observed {
		seen[[2]int64{o.EventID, o.HotelID}] = o
	}
	r := Result{Anomalies: []string{}, Notes: []string{}}
	if n := res.Requests.Internal; n > 0 {
		// Named whatever the verdict: an overbooking does not excuse it.
		anomaly := fmt.Sprintf("server errors: %d answers were 500 (internal) where the API promises a 503 or 504 for a fault", n)
		if first := res.Requests.FirstError; first != "" {
			anomaly += "; the first error: " + first
		}
		r.Anomalies = append(r.Anomalies, anomaly)
	}
	verdicts := make([]string, 0, len(res.Targets))
	for _, t := range res.Targets {
		o, ok := seen[[2]int64{t.EventID, t.HotelID}]
		if !ok {
			return Result{}, fmt.Errorf("no record of hotel %d of event %d", t.HotelID, t.EventID)
		}
		j := judge(t, o)
		verdicts = append(verdicts, j.verdict)
		r.Anomalies = append(r.Anomalies, j.anomalies...)
		r.Notes = append(r.Notes, j.notes...)
		r.Hotels = append(r.Hotels, Hotel{Ledger: t, Seen: o, Verdict: j.verdict})
	}
	// Any overbooking wins, then any inconsistency.
	switch {
	case slices.Contains(verdicts, Overbooked):
		r.Verdict = Overbooked
	case slices.Contains(verdicts, Inconsistent):
		r.Verdict = Inconsistent
	case res.Requests.Internal > 0:
		// Before the run's completeness: the broken contract is the finding.
		r.Verdict = ServerErrors
	case roomToBook(observed) == 0:
		// Nothing could be booked, so nothing was contended: "consistent"
		// would claim a strategy passed a test that never took place.
		r.Verdict = Inconclusive
		r.Anomalies = append(r.Anomalies,
			"inconclusive: nothing disagrees, but there was no room to book when the run began (no rooms assigned, or all booked already), so no booking was contended")
	case res.Resolution.Left > 0:
		// Before the clients' completeness, which it turned false: this is why.
		r.Verdict = Inconclusive
		r.Anomalies = append(r.Anomalies, fmt.Sprintf(
			"inconclusive: nothing disagrees, but %d keyed requests are still unknown after their retry budget and the database: %s",
			res.Resolution.Left, res.Resolution.Why))
	case res.GaveUp > 0:
		r.Verdict = Inconclusive
		r.Anomalies = append(r.Anomalies, fmt.Sprintf(
			"inconclusive: nothing disagrees, but %d clients gave up after repeated errors, so the hotels were not contended to the end", res.GaveUp))
	case !res.Completed:
		r.Verdict = Inconclusive
		r.Anomalies = append(r.Anomalies,
			"inconclusive: nothing disagrees, but the run was stopped before every client finished, so the hotels may not have been contended to the end")
	default:
		r.Verdict = Consistent
	}
	return r, nil
}

// roomToBook is the rooms free when the run began, over every hotel: the
// assigned rooms not already booked before it (a load on an old event).
func roomToBook(observed []Observed) int64 {
	var free int64
	for _, o := range observed {
		free += max(o.Assigned-o.BookedBefore, 0)
	}
	return free
}
