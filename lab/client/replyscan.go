package client

import (
	"bytes"
	"unicode/utf8"

	"github.com/evento-lab/evento/api/jsonscan"
)

// scanReply reads an answer that is a flat JSON object of plain strings,
// integers and literals, as Evento's booking answers are, into r, and
// reports whether it could: anything else (an escape, a nested value, a
// fraction where an integer goes, a name json.Unmarshal would match only
// case-insensitively) is left to json.Unmarshal, whose result the scan's
// always equals. Reflection and a validating pre-pass made decoding most
// of what reading an answer cost the clients.
func scanReply(b []byte, r *reply) bool {
	out := *r // as json.Unmarshal, which sets only the fields it reads
	ok := jsonscan.Object(b, func(name []byte, i int) (int, bool) {
		switch {
		case string(name) == "reservation_id" || string(name) == "rooms":
			n, end, ok := jsonscan.Integer(b, i)
			if !ok {
				return 0, false
			}
			if string(name) == "rooms" {
				out.Rooms = n
			} else {
				out.ReservationID = n
			}
			return end, true
		case string(name) == "hold_id":
			s, end, ok := jsonscan.PlainString(b, i)
			if !ok {
				return 0, false
			}
			out.HoldID = string(s)
			return end, true
		case foldsToAField(name):
			return 0, false
		}
		return scalar(b, i)
	})
	if ok {
		*r = out
	}
	return ok
}

// foldsToAField reports whether json.Unmarshal could match name to one
// of reply's fields other than by its exact spelling: it matches names
// case-insensitively, with Unicode's folding, so any non-ASCII name is
// left to it.
func foldsToAField(name []byte) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return true
		}
	}
	for _, field := range [...]string{"reservation_id", "hold_id", "rooms"} {
		if bytes.EqualFold(name, []byte(field)) {
			return true
		}
	}
	return false
}

// number reads the JSON number at i, or an integer only when integral:
// it returns where it ends.
func number(b []byte, i int) (end int, ok bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return 0, false
	}
	return j, true
}

// scalar reads the value at i when it is a plain string, a number or a
// literal; it returns where the value ends.
func scalar(b []byte, i int) (end int, ok bool) {
	if i == len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		_, end, ok = jsonscan.PlainString(b, i)
		return end, ok
	case c == '-' || (c >= '0' && c <= '9'):
		return fullNumber(b, i)
	}
	for _, literal := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(b[i:], []byte(literal)) {
			return i + len(literal), true
		}
	}
	return 0, false
}

// fullNumber reads a JSON number with its fraction and exponent.
func fullNumber(b []byte, i int) (end int, ok bool) {
	j, ok := number(b, i)
	if !ok {
		return 0, false
	}
	digits := func(j int) (int, bool) {
		k := j
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		return k, k > j
	}
	if j < len(b) && b[j] == '.' {
		if j, ok = digits(j + 1); !ok {
			return 0, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j, ok = digits(j); !ok {
			return 0, false
		}
	}
	return j, true
}
