package lab

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
)

// HistoryError is a history evento check cannot judge: another event's, a
// truncated file, the same run given twice. Its message is one line that
// names the file.
type HistoryError struct {
	Path   string
	Reason string
}

func (e *HistoryError) Error() string { return e.Path + ": " + e.Reason }

// history is one --history file, read back.
type history struct {
	path  string
	runs  []runLine
	lines []historyAttempt
	fault []nemesis.Event
}

// historyAttempt is an attempt and the run part of its file it belongs to.
type historyAttempt struct {
	client.Attempt
	run int // index into history.runs
}

// readHistory reads a --history file written for event eventID. Every line
// must parse: a last line that does not is a file cut short (a load killed
// while writing it, a copy interrupted), and judging what is left would
// call the missing bookings phantoms.
func readHistory(path string, eventID int64) (history, error) {
	h := history{path: path}
	f, err := os.Open(path)
	if err != nil {
		return h, &HistoryError{Path: path, Reason: fmt.Sprintf("cannot read it (%v)", errors.Unwrap(err))}
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for n := 1; ; n++ {
		line, readErr := r.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return h, &HistoryError{Path: path, Reason: fmt.Sprintf("cannot read line %d (%v)", n, readErr)}
		}
		last := readErr == io.EOF
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			if err := h.add(trimmed, n, eventID); err != nil {
				var syntax *json.SyntaxError
				if last && (errors.As(err, &syntax) || errors.Is(err, io.ErrUnexpectedEOF)) {
					return h, &HistoryError{Path: path, Reason: fmt.Sprintf("its last line (%d) is cut short: the file is truncated (was its evento load killed while writing it?)", n)}
				}
				var herr *HistoryError
				if errors.As(err, &herr) {
					return h, err
				}
				return h, &HistoryError{Path: path, Reason: fmt.Sprintf("line %d is not a history line (%v)", n, err)}
			}
		}
		if last {
			break
		}
	}
	if len(h.runs) == 0 {
		return h, &HistoryError{Path: path, Reason: "empty: not an evento --history file"}
	}
	return h, nil
}

// add parses one line of h's file.
func (h *history) add(line []byte, n int, eventID int64) error {
	var kind struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(line, &kind); err != nil {
		return err
	}
	if kind.Type != "run" && len(h.runs) == 0 {
		return &HistoryError{Path: h.path, Reason: fmt.Sprintf("line %d comes before any run line: not an evento --history file", n)}
	}
	switch kind.Type {
	case "run":
		var run runLine
		if err := json.Unmarshal(line, &run); err != nil {
			return err
		}
		switch {
		case run.Event == 0:
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("the run on line %d names no event (an older evento, or evento run over several events, wrote it); evento check judges histories of evento load on one event", n)}
		case run.Event != eventID:
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("a history of event %d, not of --event %d", run.Event, eventID)}
		case run.RunID == "":
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("the run on line %d has no run id (an older evento wrote it): its requests cannot be told from another history's", n)}
		}
		h.runs = append(h.runs, run)
	case "attempt":
		var a client.Attempt
		if err := json.Unmarshal(line, &a); err != nil {
			return err
		}
		switch {
		case a.Event == 0 || a.Hotel == 0:
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("the attempt on line %d names no event and hotel (an older evento wrote it)", n)}
		case a.Event != eventID:
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("the attempt on line %d booked at event %d, not at --event %d", n, a.Event, eventID)}
		case a.Request == "":
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("the attempt on line %d has no request id", n)}
		}
		h.lines = append(h.lines, historyAttempt{Attempt: a, run: len(h.runs) - 1})
	case "fault":
		var f faultLine
		if err := json.Unmarshal(line, &f); err != nil {
			return err
		}
		h.fault = append(h.fault, f.Event)
	}
	// Other types are a later evento's additions: skipped, as new fields are.
	return nil
}

// readHistories reads every file and refuses a duplicate: the same run
// (its run id) or the same request in two files, or twice in one. Merged,
// a duplicate would count every booking twice.
func readHistories(paths []string, eventID int64) ([]history, error) {
	histories := make([]history, 0, len(paths))
	runs := map[string]string{} // run id -> file
	type place struct {
		path string
		run  int
	}
	requests := map[string]place{}
	given := map[string]bool{}
	for _, path := range paths {
		if given[path] {
			return nil, &HistoryError{Path: path, Reason: "given twice: a duplicate, which would count its bookings twice"}
		}
		given[path] = true
		h, err := readHistory(path, eventID)
		if err != nil {
			return nil, err
		}
		for _, run := range h.runs {
			if other, ok := runs[run.RunID]; ok {
				return nil, &HistoryError{Path: path, Reason: fmt.Sprintf("the same run (run id %s, seed %d) as %s: a duplicate, which would count its bookings twice", run.RunID, run.Seed, sameFile(other, path))}
			}
			runs[run.RunID] = path
		}
		for _, a := range h.lines {
			if other, ok := requests[a.Request]; ok && (other.path != path || other.run != a.run) {
				return nil, &HistoryError{Path: path, Reason: fmt.Sprintf("request %s is also in %s: a duplicate, which would count its bookings twice", a.Request, sameFile(other.path, path))}
			}
			requests[a.Request] = place{path, a.run}
		}
		histories = append(histories, h)
	}
	return histories, nil
}

func sameFile(other, path string) string {
	if other == path {
		return "an earlier run of this file"
	}
	return other
}

// mergedRequest is one logical request of a merged history: its attempts
// in the order they were made, and whether its key's scope is known.
type mergedRequest struct {
	attempts []client.Attempt
	// scopeUnknown: the run sent an API key whose client it could not
	// name (evento load --api-key without DATABASE_URL), so the key as
	// stored is unknown and cannot be looked up.
	scopeUnknown bool
}

// storedKey is the request's key as the server stores it; "" without one.
func (m mergedRequest) storedKey() string {
	a := m.attempts[0]
	if a.StoredKey != "" {
		return a.StoredKey
	}
	return a.Key
}

// bookingOp reports whether op books rooms when it succeeds.
func bookingOp(op string) bool { return op == "reserve" || op == "confirm" }

// settles reports whether an answer is final for its request: a success,
// or a refusal the server stores under the key or repeats to every resend
// (sold out, a hold expired, a bad request). After a lost attempt only such
// an answer tells what became of it; a conflict, request_in_progress, 503
// or an attempt never sent speaks of that attempt alone (client.send).
func settles(a client.Attempt) bool {
	switch {
	case a.Class == client.ClassOK:
		return true
	case a.Class != client.ClassFail || a.Status < 400 || a.Status >= 500:
		return false
	}
	return a.Code != "conflict" && a.Code != "request_in_progress"
}

// merged is the histories of one event's loads as one run.
type merged struct {
	runs     []runLine
	requests []mergedRequest
	attempts []client.Attempt // every attempt, by invocation
	faults   []nemesis.Event
	servers  int // distinct servers the attempts went to
}

func mergeHistories(histories []history) merged {
	var m merged
	byRequest := map[string]int{}
	servers := map[string]bool{}
	for _, h := range histories {
		m.runs = append(m.runs, h.runs...)
		m.faults = append(m.faults, h.fault...)
		for _, a := range h.lines {
			m.attempts = append(m.attempts, a.Attempt)
			if a.Server != "" {
				servers[a.Server] = true
			}
			i, ok := byRequest[a.Request]
			if !ok {
				i = len(m.requests)
				byRequest[a.Request] = i
				m.requests = append(m.requests, mergedRequest{})
			}
			r := &m.requests[i]
			r.attempts = append(r.attempts, a.Attempt)
			if h.runs[a.run].APIKey && a.Key != "" && a.StoredKey == "" {
				r.scopeUnknown = true
			}
		}
	}
	byInvocation := func(a, b client.Attempt) int { return a.Invoked.Compare(b.Invoked) }
	slices.SortStableFunc(m.attempts, byInvocation)
	for _, r := range m.requests {
		slices.SortStableFunc(r.attempts, byInvocation)
	}
	slices.SortStableFunc(m.faults, func(a, b nemesis.Event) int { return a.Start.Compare(b.Start) })
	m.servers = len(servers)
	return m
}

// ledger folds the merged requests into the clients' ledger as one run
// over targets (every hotel of the event), the shape the checker judges:
//
//   - a request with an ok attempt was told its rooms are booked: they are
//     acknowledged, under the reservation it was told;
//   - a request whose last attempt settles it otherwise (a refusal), or
//     whose every attempt failed, was told nothing was booked;
//   - any other request with a lost (info) attempt stays unknown: its rooms
//     may or may not be booked.
//
// Keyed maps each settled request's stored key to what it was told, for
// the per-key check; keys whose scope is unknown are left out (and counted).
func (m merged) ledger(targets []client.Target) (res client.Result, unscoped int) {
	res.Targets = make([]client.TargetResult, len(targets))
	index := map[[2]int64]int{}
	for i, t := range targets {
		res.Targets[i] = client.TargetResult{Target: t, Reservations: map[int64]int64{}, Keyed: map[string]int64{}}
		index[[2]int64{t.EventID, t.HotelID}] = i
	}
	res.Completed = len(m.runs) > 0
	for _, run := range m.runs {
		if res.Started.IsZero() || run.Started.Before(res.Started) {
			res.Started = run.Started
		}
		res.Completed = res.Completed && run.Completed
		res.GaveUp += run.GaveUp
	}
	if len(m.attempts) > 0 && (res.Started.IsZero() || m.attempts[0].Invoked.Before(res.Started)) {
		// Another machine's clock may run behind: the merged run starts
		// at its first attempt at the latest.
		res.Started = m.attempts[0].Invoked
	}
	var latencies []time.Duration
	var end time.Time
	for _, r := range m.requests {
		first, last := r.attempts[0], r.attempts[len(r.attempts)-1]
		t := &res.Targets[index[[2]int64{first.Event, first.Hotel}]]
		res.Requests.Retries += int64(len(r.attempts) - 1)
		lost := slices.ContainsFunc(r.attempts, func(a client.Attempt) bool { return a.Class == client.ClassInfo })
		switch {
		case first.Op == "hold":
			if last.Class == client.ClassOK {
				res.Holds.Placed++
			} else if lost && !settles(last) {
				res.Holds.Unknown++
			}
			continue
		case !bookingOp(first.Op):
			continue
		}
		latencies = append(latencies, last.Completed.Sub(first.Invoked))
		key := r.storedKey()
		if key != "" && r.scopeUnknown {
			unscoped++
			key = ""
		}
		switch {
		case last.Class == client.ClassOK:
			if last.Reservation == 0 {
				continue
			}
			res.Requests.Success++
			if first.Op == "confirm" {
				res.Holds.Confirmed++
			}
			t.Acknowledged += first.Rooms
			t.Reservations[last.Reservation] = first.Rooms
			if key != "" {
				t.Keyed[key] = last.Reservation
			}
		case lost && !settles(last):
			res.UnknownRequests++
			t.Unknown += first.Rooms
		default:
			if key != "" {
				t.Keyed[key] = 0
			}
		}
	}
	for _, a := range m.attempts {
		if a.Completed.After(end) {
			end = a.Completed
		}
		if a.Replayed {
			res.Replayed++
		}
		switch a.Code {
		case "conflict", "request_in_progress":
			res.Requests.Conflict++
		case "sold_out":
			res.Requests.SoldOut++
			t := &res.Targets[index[[2]int64{a.Event, a.Hotel}]]
			if after := a.Completed.Sub(res.Started); t.SoldOutAfter == 0 || after < t.SoldOutAfter {
				t.SoldOutAfter = max(after, time.Nanosecond)
			}
		case "insufficient_rooms":
			res.Requests.Insufficient++
		case "rooms_held":
			res.Requests.RoomsHeld++
		}
		if a.IsError() {
			res.Requests.Error++
			if res.Requests.FirstError == "" {
				res.Requests.FirstError = a.Error
			}
		}
		res.Seconds = tickSecond(res.Seconds, res.Started, a)
	}
	if end.After(res.Started) {
		res.Elapsed = end.Sub(res.Started)
	}
	res.Latency = latencyOf(latencies)
	res.History = m.attempts
	return res, unscoped
}

// tickSecond counts a in the second of the merged run it completed in, as
// the clients' own timeline does: bookings, conflicts, errors.
func tickSecond(seconds []client.Second, started time.Time, a client.Attempt) []client.Second {
	i := int(a.Completed.Sub(started) / time.Second)
	if i < 0 || i > maxTimelineSeconds {
		return seconds // a clock gone astray must not allocate a year of seconds
	}
	for len(seconds) <= i {
		seconds = append(seconds, client.Second{})
	}
	switch {
	case a.Class == client.ClassOK && a.Reservation != 0:
		seconds[i].Bookings++
	case a.Code == "conflict" || a.Code == "request_in_progress":
		seconds[i].Conflicts++
	case a.IsError():
		seconds[i].Errors++
	}
	return seconds
}

// maxTimelineSeconds bounds the merged timeline: a day.
const maxTimelineSeconds = 24 * 60 * 60

// latencyOf summarises the bookings' round trips, first attempt to last
// answer (resends included, as the clients measure them).
func latencyOf(d []time.Duration) client.LatencyMs {
	if len(d) == 0 {
		return client.LatencyMs{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		return float64(d[min(int(q*float64(len(d))), len(d)-1)].Microseconds()) / 1000
	}
	return client.LatencyMs{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: at(1)}
}

// describe lists the merged runs, one phrase each, for the report's notes.
func describeRuns(histories []history) string {
	var parts []string
	for _, h := range histories {
		for _, run := range h.runs {
			parts = append(parts, fmt.Sprintf("%s (run %s, %s, seed %d, %d clients)", h.path, run.RunID, run.Strategy, run.Seed, run.Clients))
		}
	}
	return strings.Join(parts, "; ")
}
