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
	ok := jsonscan.Object(body, func(name []byte, i int) (int, bool) {
		switch {
		case string(name) == "name" && out.Name == nil:
			value, end, ok := jsonscan.PlainString(body, i)
			if !ok {
				return 0, false
			}
			s := string(value)
			out.Name = &s
			return end, true
		case string(name) == "rooms" && out.Rooms == nil:
			n, end, ok := jsonscan.Integer(body, i)
			if !ok {
				return 0, false
			}
			out.Rooms = &n
			return end, true
		}
		return 0, false
	})
	if ok {
		*dst = out
	}
	return ok
}
