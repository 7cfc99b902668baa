package evento

import "time"

// BookRequest asks for rooms at one hotel of one event.
type BookRequest struct {
	EventID int64
	HotelID int64
	Name    string
	Rooms   int32
}

// Booking is a reservation that was made.
type Booking struct {
	ReservationID int64
	EventID       int64
	HotelID       int64
	Name          string
	Rooms         int32
}

// HotelAvailability is one hotel's counters for an event, as clients are
// shown them (a hold past its expiry no longer counts as locked).
type HotelAvailability struct {
	EventID   int64
	HotelID   int64
	HotelName string
	Assigned  int32
	Reserved  int32
	Locked    int32
}

// Available is what the counters say is left to book. After the naive
// strategy's lost updates the counters can look healthy while reservations
// hold more rooms than assigned, which is why reports also sum the rows.
func (h HotelAvailability) Available() int32 { return h.Assigned - h.Reserved - h.Locked }

// Hold states.
const (
	HoldHeld      = "held"
	HoldConfirmed = "confirmed"
	HoldReleased  = "released"
	HoldExpired   = "expired"
)

// HoldRequest asks to take rooms out of the pool for TTL.
type HoldRequest struct {
	BookRequest
	TTL time.Duration
}

// Hold is a hold as a client sees it. State is "expired" as soon as
// ExpiresAt passes, even before a sweeper has marked it so.
type Hold struct {
	ID            int64
	EventID       int64
	HotelID       int64
	Name          string
	Rooms         int32
	State         string
	ExpiresAt     time.Time
	ReservationID int64 // 0 until confirmed
}

// HoldRef names a hold under its hotel, as the API's paths do.
type HoldRef struct {
	EventID, HotelID, HoldID int64
}

// Confirmation is a hold turned into a reservation.
type Confirmation struct {
	ReservationID int64
	HoldID        int64
	EventID       int64
	HotelID       int64
	Rooms         int32
	// Earlier is true when the hold had been confirmed before: the
	// reservation is that earlier one, and nothing new was booked.
	Earlier bool
}

// IdempotencyKey is a client's key for one logical request.
type IdempotencyKey struct {
	Key         string
	Fingerprint string        // identifies the request: method, route and body
	Keep        time.Duration // how long the outcome is replayed
}

// String names the key by its ShortHash, so that a key printed with %v, or
// logged, is never the key itself.
func (k IdempotencyKey) String() string { return "idempotency key #" + ShortHash(k.Key) }
