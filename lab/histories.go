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
	// part counts the lines of the last run's part read so far; ended says
	// its end line was read.
	part  endLine
	ended bool
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
	if !h.ended {
		return h, h.unended()
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
	if kind.Type != "run" && kind.Type != "end" {
		if h.ended {
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("line %d follows the end line of run %s: lines were added to the file", n, h.runs[len(h.runs)-1].RunID)}
		}
		h.part.Lines++
	}
	switch kind.Type {
	case "end":
		var end endLine
		if err := json.Unmarshal(line, &end); err != nil {
			return err
		}
		if h.ended {
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf("line %d is a second end line of run %s", n, h.runs[len(h.runs)-1].RunID)}
		}
		end.Type = ""
		if end != h.part {
			return &HistoryError{Path: h.path, Reason: fmt.Sprintf(
				"the end line of run %s (line %d) counts %d lines (%d attempts, %d faults), but %d lines (%d attempts, %d faults) were read: lines were dropped from the file or added to it, and a dropped ok line would make its booking look like someone else's",
				h.runs[len(h.runs)-1].RunID, n, end.Lines, end.Attempts, end.Faults, h.part.Lines, h.part.Attempts, h.part.Faults)}
		}
		h.ended = true
	case "run":
		if len(h.runs) > 0 && !h.ended {
			return h.unended()
		}
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
		h.part, h.ended = endLine{Lines: 1}, false
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
		h.part.Attempts++
	case "fault":
		var f faultLine
		if err := json.Unmarshal(line, &f); err != nil {
			return err
		}
		h.fault = append(h.fault, f.Event)
		h.part.Faults++
	}
	// Other types are a later evento's additions: skipped, as new fields are.
	return nil
}

// unended is the refusal of the last run's part with no end line: the file
// was cut at a line boundary, which parses as well as a whole file. Histories from
// before the end line are refused too: which of them is cut short cannot be
// told, and judged, a cut one's missing bookings would be someone else's.
func (h *history) unended() error {
	return &HistoryError{Path: h.path, Reason: fmt.Sprintf(
		"run %s has no end line: the file was cut short at a line boundary (its evento load killed while writing it, a copy interrupted, part of it pasted), or an evento older than the end line wrote it; its missing lines cannot be told from someone else's bookings",
		h.runs[len(h.runs)-1].RunID)}
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
	for i, path := range paths {
		if slices.Index(paths, path) < i {
			return nil, &HistoryError{Path: path, Reason: "given twice: a duplicate, which would count its bookings twice"}
		}
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

// merged is the histories of one event's loads as one run.
type merged struct {
	runs     []runLine
	attempts []client.Attempt // every attempt, by invocation
	faults   []nemesis.Event
	servers  int // distinct servers the attempts went to
	// unscoped are the keys of bookings sent with an API key whose client
	// their run could not name (evento load --api-key without
	// DATABASE_URL): the keys as stored are unknown, so cannot be looked up.
	unscoped map[string]bool
}

func mergeHistories(histories []history) merged {
	m := merged{unscoped: map[string]bool{}}
	servers := map[string]bool{}
	for _, h := range histories {
		m.runs = append(m.runs, h.runs...)
		m.faults = append(m.faults, h.fault...)
		for _, a := range h.lines {
			m.attempts = append(m.attempts, a.Attempt)
			if a.Server != "" {
				servers[a.Server] = true
			}
			if h.runs[a.run].APIKey && a.Key != "" && a.StoredKey == "" && a.Books() {
				m.unscoped[a.Key] = true
			}
		}
	}
	slices.SortStableFunc(m.attempts, func(a, b client.Attempt) int { return a.Invoked.Compare(b.Invoked) })
	slices.SortStableFunc(m.faults, func(a, b nemesis.Event) int { return a.Start.Compare(b.Start) })
	m.servers = len(servers)
	return m
}

// ledger replays the merged attempts into the clients' ledger as one run
// over targets (every hotel of the event), the shape the checker judges.
// Unscoped keys are left out of the per-key record, and counted.
func (m merged) ledger(targets []client.Target) (res client.Result, unscoped int) {
	var started time.Time
	completed, gaveUp := len(m.runs) > 0, int64(0)
	for _, run := range m.runs {
		if started.IsZero() || run.Started.Before(started) {
			started = run.Started
		}
		completed = completed && run.Completed
		gaveUp += run.GaveUp
	}
	res = client.Replay(targets, started, m.attempts)
	res.Completed, res.GaveUp = completed, gaveUp
	for _, t := range res.Targets {
		for key := range m.unscoped {
			delete(t.Keyed, key)
		}
	}
	return res, len(m.unscoped)
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
