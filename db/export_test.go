package db

import "github.com/evento-lab/evento"

// The outcome codec of idempotency.go, for db_test: the outcome that
// AtomicBookKeyed builds in SQL must read back as the Go codec's.

func EncodeBookingOutcome(o evento.Outcome[evento.Booking]) ([]byte, error) { return encodeOutcome(o) }

func DecodeBookingOutcome(encoded []byte) (evento.Outcome[evento.Booking], error) {
	return decodeOutcome[evento.Booking](encoded)
}
