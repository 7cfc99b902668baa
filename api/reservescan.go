package api

// scanReserve reads a reserve's body when it is the plain object every
// client sends, {"name":"...","rooms":N} in either order, and reports
// whether it could. Anything else (an escape, another field, a name sent
// twice, a fraction, null) is left to json.Unmarshal and its checks,
// whose result the scan's always equals for what it reads: reflection
// was most of what decoding a booking cost. body is valid UTF-8.
func scanReserve(body []byte, dst *reserveRequest) bool {
	var out reserveRequest
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		*dst = out
		return skipSpace(body, i+1) == len(body)
	}
	for {
		name, end, ok := scanPlainString(body, i)
		if !ok {
			return false
		}
		i = skipSpace(body, end)
		if i == len(body) || body[i] != ':' {
			return false
		}
		i = skipSpace(body, i+1)
		switch {
		case string(name) == "name" && out.Name == nil:
			value, end, ok := scanPlainString(body, i)
			if !ok {
				return false
			}
			s := string(value)
			out.Name, i = &s, end
		case string(name) == "rooms" && out.Rooms == nil:
			n, end, ok := scanInteger(body, i)
			if !ok {
				return false
			}
			out.Rooms, i = &n, end
		default:
			return false
		}
		i = skipSpace(body, i)
		if i == len(body) {
			return false
		}
		if body[i] == '}' {
			if skipSpace(body, i+1) != len(body) {
				return false
			}
			*dst = out
			return true
		}
		if body[i] != ',' {
			return false
		}
		i = skipSpace(body, i+1)
	}
}

// scanPlainString reads the string at i when it has no escape and no
// control character: JSON spells it as it is.
func scanPlainString(body []byte, i int) (s []byte, end int, ok bool) {
	if i == len(body) || body[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return body[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// scanInteger reads the JSON integer at i (no fraction, no exponent,
// within int64; the one value past -(1<<63-1) is left to json.Unmarshal).
func scanInteger(body []byte, i int) (n int64, end int, ok bool) {
	j := i
	if j < len(body) && body[j] == '-' {
		j++
	}
	digits := j
	for j < len(body) && body[j] >= '0' && body[j] <= '9' {
		c := int64(body[j] - '0')
		if n > (1<<63-1-c)/10 {
			return 0, 0, false
		}
		n = n*10 + c
		j++
	}
	// No digits, or a leading zero before more: not a JSON number.
	if j == digits || (body[digits] == '0' && j > digits+1) {
		return 0, 0, false
	}
	if body[i] == '-' {
		n = -n
	}
	return n, j, true
}
