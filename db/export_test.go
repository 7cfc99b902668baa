package db

import "github.com/evento-lab/evento"

// The outcome codec of idempotency.go, for db_test: the outcome that
// AtomicBookKeyed builds in SQL must read back as the Go codec's.

func EncodeBookingOutcome(o evento.Outcome[evento.Booking]) ([]byte, error) { return encodeOutcome(o) }

func DecodeBookingOutcome(encoded []byte) (evento.Outcome[evento.Booking], error) {
	return decodeOutcome[evento.Booking](encoded)
}

// KeyedOutcome reads a fast-path statement's answer, for db_test.
func KeyedOutcome(id int64, err error, req evento.BookRequest) (evento.Booking, bool, error) {
	return keyedOutcome(id, err, req)
}
