package client

import (
	"strings"
	"time"
)

// Attempt is one HTTP attempt of a booking-like request, as Jepsen records
// an operation: when it was invoked and completed, and how it ended. Its
// JSON is the history format (`--history`): stable, one object per line.
type Attempt struct {
	Type      string    `json:"type"`    // always "attempt"
	Client    int       `json:"client"`  // the simulated client
	Request   string    `json:"request"` // the logical request; its attempts share it
	Key       string    `json:"key,omitempty"`
	Op        string    `json:"op"` // reserve, hold or confirm
	Server    string    `json:"server,omitempty"`
	Invoked   time.Time `json:"invoked"`
	Completed time.Time `json:"completed"`
	// Class is ok (it happened), fail (it certainly did not) or info (it
	// may have: the answer was lost).
	Class  string `json:"class"`
	Status int    `json:"status,omitempty"` // the HTTP status; 0 when none came
	Error  string `json:"error,omitempty"`  // the transport error or error code

	// The fields below were added so that the histories of several load
	// generators can be judged as one run (evento check): each attempt says
	// what it booked, where, and under which stored key. They are optional
	// (absent in older histories), and the ones above keep their names.

	// Event and Hotel are the target the request books at.
	Event int64 `json:"event,omitempty"`
	Hotel int64 `json:"hotel,omitempty"`
	// Rooms is what the request asks for; a confirm asks for its hold's.
	Rooms int64 `json:"rooms,omitempty"`
	// Reservation is the reservation an ok reserve or confirm was told.
	Reservation int64 `json:"reservation,omitempty"`
	// Code is the API's error code of a refusal or error answer
	// (sold_out, conflict, unavailable…): whether a refusal is final, and
	// so settles an earlier lost attempt, depends on it.
	Code string `json:"code,omitempty"`
	// Replayed: the answer came from the key's stored outcome.
	Replayed bool `json:"replayed,omitempty"`
	// StoredKey is Key as the server stores it, when that differs from Key
	// (scoped to an API client: evento.ScopedKey).
	StoredKey string `json:"stored_key,omitempty"`
}

// The classes of an attempt, as Jepsen names them.
const (
	ClassOK   = "ok"
	ClassFail = "fail"
	ClassInfo = "info"
)

func (o outcome) class() string {
	switch o {
	case succeeded:
		return ClassOK
	case unknown:
		return ClassInfo
	}
	return ClassFail
}

// operation names a request by its path.
func operation(path string) string {
	switch {
	case strings.HasSuffix(path, "/confirm"):
		return "confirm"
	case strings.HasSuffix(path, "/holds"):
		return "hold"
	}
	return "reserve"
}

// IsError reports whether the attempt counts as an error, as the clients
// count them: no answer, a 5xx, or never sent. A refusal is not one.
func (a Attempt) IsError() bool {
	return a.Class == ClassInfo || a.Status >= 500 || (a.Class == ClassFail && a.Status == 0)
}
