package client

import (
	"encoding/json"
	"testing"
)

// A booking's body is spelled exactly as json.Marshal spells it.
func TestBookingBodyEncodesAsMarshal(t *testing.T) {
	for _, b := range []bookingBody{
		{Name: "client-12", Rooms: 3},
		{Name: "client-1", Rooms: 2, TTLSeconds: 5},
		{Name: "", Rooms: 0},
		{Name: "a b~", Rooms: -1, TTLSeconds: -7},
		{Name: `quote " and \ backslash`, Rooms: 1},
		{Name: "<script>&", Rooms: 1},
		{Name: "tab\tnewline\n\x7f", Rooms: 1},
		{Name: "Zoë 東京 \u2028", Rooms: 1},
		{Name: "\xff", Rooms: 1},
	} {
		want, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := b.encode(); string(got) != string(want) {
			t.Errorf("%+v: %s, json.Marshal %s", b, got, want)
		}
	}
}

func FuzzBookingBodyEncodesAsMarshal(f *testing.F) {
	f.Add("client-12", int64(3), int64(0))
	f.Add("<\"\\\u2028\xff", int64(-1), int64(5))
	f.Fuzz(func(t *testing.T, name string, rooms, ttl int64) {
		b := bookingBody{Name: name, Rooms: rooms, TTLSeconds: ttl}
		want, _ := json.Marshal(b)
		if got := b.encode(); string(got) != string(want) {
			t.Errorf("%+v: %s, json.Marshal %s", b, got, want)
		}
	})
}
