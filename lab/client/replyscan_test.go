package client

import (
	"encoding/json"
	"testing"
)

var replySamples = []string{
	`{"reservation_id":7,"event_id":1,"hotel_id":2,"name":"client-12","rooms":3,"mode":"batched"}` + "\n",
	`{"hold_id":"h-3f2a","event_id":1,"hotel_id":2,"name":"client-1","rooms":2,"expires_at":"2026-12-07T04:00:00Z","ttl_seconds":5}`,
	`{"reservation_id":9,"hold_id":"h-1","rooms":1,"replayed":true,"x":null,"y":false,"z":-1.5e+3}`,
	` { "reservation_id" : 7 , "rooms" : 2 } `,
	`{}`, ` {} `, `{"rooms":0}`, `{"rooms":-0}`, `{"rooms":-12}`,
	`{"rooms":2,"rooms":5}`,
	`{"Rooms":2}`, `{"ROOMS":2}`, `{"reservation_ID":2}`, `{"roomſ":2}`, `{"ro\u006fms":2}`,
	`{"rooms":2.0}`, `{"rooms":2e0}`, `{"rooms":"2"}`, `{"rooms":null}`, `{"rooms":true}`,
	`{"rooms":01}`, `{"rooms":1x}`, `{"rooms":-}`, `{"rooms":9223372036854775807}`, `{"rooms":9223372036854775808}`, `{"rooms":-9223372036854775808}`, `{"rooms":-9223372036854775807}`,
	`{"hold_id":"a\"b"}`, `{"hold_id":"a\u0041"}`, `{"hold_id":"é"}`, "{\"hold_id\":\"\xff\"}", "{\"hold_id\":\"a\tb\"}",
	`{"hold_id":5}`, `{"hold_id":null}`,
	`{"name":{"a":1},"rooms":2}`, `{"name":[1],"rooms":2}`, `{"name":"x\\y","rooms":2}`,
	`{"z":1.}`, `{"z":.5}`, `{"z":1e}`, `{"z":1.5E-2}`, `{"z":tru}`, `{"z":nul}`, `{"z":truex}`,
	`{"rooms":2} x`, `{"rooms":2}{}`, `{"rooms":2`, `{"rooms":2,}`, `{,}`, `{"rooms" 2}`, `{"rooms":}`,
	`[]`, `null`, `2`, ``, ` `, `"x"`, `{"Replayed":true,"RetryAfter":3,"-":1}`,
}

// Whatever the scan reads, json.Unmarshal reads alike: the scan only
// ever spares the reflection.
func TestScanReplyReadsAsUnmarshal(t *testing.T) {
	for _, doc := range replySamples {
		checkScanReply(t, doc)
	}
	// The answers the clients get must take the scan, not the fallback.
	for _, doc := range replySamples[:4] {
		var r reply
		if !scanReply([]byte(doc), &r) {
			t.Errorf("%s: not scanned", doc)
		}
	}
}

func checkScanReply(t *testing.T, doc string) {
	t.Helper()
	prior := reply{ReservationID: -5, HoldID: "before", Rooms: -6, Replayed: true}
	scanned, unmarshalled := prior, prior
	if !scanReply([]byte(doc), &scanned) {
		if scanned != prior {
			t.Errorf("%s: a refused scan changed the reply: %+v", doc, scanned)
		}
		return
	}
	if err := json.Unmarshal([]byte(doc), &unmarshalled); err != nil {
		t.Errorf("%s: scanned %+v, json.Unmarshal refuses it: %v", doc, scanned, err)
		return
	}
	if scanned != unmarshalled {
		t.Errorf("%s: scanned %+v, json.Unmarshal %+v", doc, scanned, unmarshalled)
	}
}

func FuzzScanReply(f *testing.F) {
	for _, doc := range replySamples {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { checkScanReply(t, doc) })
}
