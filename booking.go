package evento

import "time"

// BookRequest asks for rooms at one hotel of one event, for Client.
type BookRequest struct {
	EventID int64
	HotelID int64
	Name    string
	Rooms   int32
	// Client is who asks, and owns what is booked or held.
	Client ClientID
	// MaxRoomsPerEvent caps the rooms Client may have at the event, booked
	// or held, over all its hotels, this request included; 0 is no limit
	// (always, for the anonymous client: it is everyone).
	MaxRoomsPerEvent int32
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

// ClientID is who makes a request: an API client of a server started with
// --auth keys, or Anonymous, the one client that every request of a server
// without authentication is.
type ClientID int64

// Anonymous is the client of every request a server does not authenticate.
const Anonymous ClientID = 0

// HoldRequest asks to take rooms out of the pool for TTL, for Client.
type HoldRequest struct {
	BookRequest
	TTL time.Duration
	// MaxHeldRooms caps the rooms Client holds at once, over every hotel,
	// this hold included; 0 is no cap.
	MaxHeldRooms int32
	// Cooldown is how long after a hold of Client at this hotel ended
	// (released or expired) Client may not hold there again; 0 is none.
	Cooldown time.Duration
}

// Hold is a hold as a client sees it. State is "expired" as soon as
// ExpiresAt passes, even before a sweeper has marked it so.
type Hold struct {
	// Handle is the hold's name in the API (hold_id): 128 random bits,
	// so nobody finds a hold they were not given.
	Handle        string
	EventID       int64
	HotelID       int64
	Name          string
	Rooms         int32
	State         string
	ExpiresAt     time.Time
	ReservationID int64 // 0 until confirmed
}

// HoldRef names a hold under its hotel, as the API's paths do, on behalf
// of Client: only the client that placed a hold finds it.
type HoldRef struct {
	EventID, HotelID int64
	Handle           string
	Client           ClientID
}

// Confirmation is a hold turned into a reservation.
type Confirmation struct {
	ReservationID int64
	HoldHandle    string
	EventID       int64
	HotelID       int64
	Rooms         int32
	// Earlier is true when the hold had been confirmed before: the
	// reservation is that earlier one, and nothing new was booked.
	Earlier bool
}

// ReservationRef names a reservation under its hotel, as the API's paths
// do, on behalf of Client: only the client that booked it finds it.
type ReservationRef struct {
	EventID, HotelID, ReservationID int64
	Client                          ClientID
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
