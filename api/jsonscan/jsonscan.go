// Package jsonscan reads the plain JSON an Evento booking is spelled in
// (strings without escapes, integers, the spaces between) without
// reflection. The API reads a reserve's body with it and the lab's
// clients read its answer; whatever it cannot read is left to
// encoding/json by its caller.
package jsonscan

import "unicode/utf8"

// SkipSpace returns the first index at or after i that is not JSON white
// space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// Object reads b when it is one JSON object and white space around it,
// and reports whether it could: each member's name must be a plain string
// (PlainString), and member reads its value, which starts at i, and
// returns where the value ends, or false when it cannot read it.
func Object(b []byte, member func(name []byte, i int) (end int, ok bool)) bool {
	i := SkipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i = SkipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return SkipSpace(b, i+1) == len(b)
	}
	for {
		name, end, ok := PlainString(b, i)
		if !ok {
			return false
		}
		i = SkipSpace(b, end)
		if i == len(b) || b[i] != ':' {
			return false
		}
		if end, ok = member(name, SkipSpace(b, i+1)); !ok {
			return false
		}
		i = SkipSpace(b, end)
		if i == len(b) {
			return false
		}
		if b[i] == '}' {
			return SkipSpace(b, i+1) == len(b)
		}
		if b[i] != ',' {
			return false
		}
		i = SkipSpace(b, i+1)
	}
}

// PlainString reads the string at i when it is valid UTF-8 with no escape
// and no control character, which JSON spells as it is; end is just past
// its closing quote.
func PlainString(b []byte, i int) (s []byte, end int, ok bool) {
	if i == len(b) || b[i] != '"' {
		return nil, 0, false
	}
	start := i + 1
	for j := start; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if !utf8.Valid(b[start:j]) {
				return nil, 0, false
			}
			return b[start:j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// Integer reads the JSON integer at i (no fraction, no exponent) that
// fits an int64; end is just past it. Past int64 encoding/json refuses it
// too; its one exception, -1<<63, is left to encoding/json as well.
func Integer(b []byte, i int) (n int64, end int, ok bool) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		c := int64(b[j] - '0')
		if n > (1<<63-1-c)/10 {
			return 0, 0, false
		}
		n = n*10 + c
		j++
	}
	// No digits, or a leading zero before more: not a JSON number.
	if j == digits || (b[digits] == '0' && j > digits+1) {
		return 0, 0, false
	}
	if b[i] == '-' {
		n = -n
	}
	return n, j, true
}
