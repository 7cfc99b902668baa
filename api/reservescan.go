package api

import "github.com/evento-lab/evento/api/jsonscan"

// scanReserve reads a reserve's body when it is the plain object every
// client sends, {"name":"...","rooms":N} in either order, and reports
// whether it could. Anything else (an escape, another field, a name sent
// twice, a fraction, null) is left to json.Unmarshal and its checks,
// whose result the scan's always equals for what it reads: reflection
// was most of what decoding a booking cost. body is valid UTF-8.
func scanReserve(body []byte, dst *reserveRequest) bool {
	var out reserveRequest
	i := jsonscan.SkipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = jsonscan.SkipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		*dst = out
		return jsonscan.SkipSpace(body, i+1) == len(body)
	}
	for {
		name, end, ok := jsonscan.PlainString(body, i)
		if !ok {
			return false
		}
		i = jsonscan.SkipSpace(body, end)
		if i == len(body) || body[i] != ':' {
			return false
		}
		i = jsonscan.SkipSpace(body, i+1)
		switch {
		case string(name) == "name" && out.Name == nil:
			value, end, ok := jsonscan.PlainString(body, i)
			if !ok {
				return false
			}
			s := string(value)
			out.Name, i = &s, end
		case string(name) == "rooms" && out.Rooms == nil:
			n, end, ok := jsonscan.Integer(body, i)
			if !ok {
				return false
			}
			out.Rooms, i = &n, end
		default:
			return false
		}
		i = jsonscan.SkipSpace(body, i)
		if i == len(body) {
			return false
		}
		if body[i] == '}' {
			if jsonscan.SkipSpace(body, i+1) != len(body) {
				return false
			}
			*dst = out
			return true
		}
		if body[i] != ',' {
			return false
		}
		i = jsonscan.SkipSpace(body, i+1)
	}
}
