package client

import (
	"encoding/json"
	"strconv"
)

// encode is the body's JSON, exactly as json.Marshal spells it: written
// directly when the name is printable ASCII that JSON and its HTML
// escaping leave as it is ("client-12"), by json.Marshal otherwise.
func (b bookingBody) encode() []byte {
	for i := 0; i < len(b.Name); i++ {
		if c := b.Name[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			encoded, _ := json.Marshal(b)
			return encoded
		}
	}
	out := make([]byte, 0, 48+len(b.Name))
	out = append(append(append(out, `{"name":"`...), b.Name...), `","rooms":`...)
	out = strconv.AppendInt(out, b.Rooms, 10)
	if b.TTLSeconds != 0 {
		out = strconv.AppendInt(append(out, `,"ttl_seconds":`...), b.TTLSeconds, 10)
	}
	return append(out, '}')
}
