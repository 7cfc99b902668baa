package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Hold errors: the hold exists but can no longer become a reservation.
var (
	ErrHoldExpired   = errors.New("hold expired")
	ErrHoldReleased  = errors.New("hold released")
	ErrHoldConfirmed = errors.New("hold already confirmed")
)

// Hold states, as stored in holds.state.
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

func holdRooms(ctx context.Context, q *Queries, req HoldRequest) (Hold, error) {
	params := PlaceHoldParams{
		EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms,
		TtlSeconds: int32(req.TTL / time.Second),
	}
	row, err := q.PlaceHold(ctx, params)
	if errors.Is(err, pgx.ErrNoRows) {
		// Overdue holds may be all that stands in the way.
		if freed, ferr := releaseOverdueHolds(ctx, q, req.BookRequest); ferr != nil {
			return Hold{}, ferr
		} else if freed > 0 {
			row, err = q.PlaceHold(ctx, params)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, explainRefusal(ctx, q, req.BookRequest)
	}
	if err != nil {
		return Hold{}, fmt.Errorf("place hold: %w", err)
	}
	return Hold{
		ID: row.ID, EventID: req.EventID, HotelID: req.HotelID, Name: req.Name,
		Rooms: row.Rooms, State: row.State, ExpiresAt: row.ExpiresAt,
	}, nil
}

// confirmHeld books a live hold. replayed is true when the hold had already
// been confirmed: the booking returned is that earlier one, not a new one.
func confirmHeld(ctx context.Context, q *Queries, ref HoldRef) (booking Booking, replayed bool, err error) {
	row, err := q.ConfirmHold(ctx, ConfirmHoldParams{HoldID: ref.HoldID, EventID: ref.EventID, HotelID: ref.HotelID})
	if err == nil {
		return Booking{ReservationID: row.ID, EventID: ref.EventID, HotelID: ref.HotelID, Rooms: row.Number}, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Booking{}, false, err
	}
	hold, err := readHold(ctx, q, ref)
	if err != nil {
		return Booking{}, false, err
	}
	switch hold.State {
	case HoldConfirmed:
		return Booking{ReservationID: hold.ReservationID, EventID: ref.EventID, HotelID: ref.HotelID, Name: hold.Name, Rooms: hold.Rooms}, true, nil
	case HoldReleased:
		return Booking{}, false, ErrHoldReleased
	case HoldExpired:
		return Booking{}, false, ErrHoldExpired
	default:
		// Still held and not overdue after the confirm found it otherwise:
		// only a concurrent change explains that. Let the client retry.
		return Booking{}, false, ErrConflict
	}
}

// releaseHeld gives a hold's rooms back. Releasing a hold that is already
// released or expired succeeds (the rooms are back either way); a
// confirmed hold cannot be released.
func releaseHeld(ctx context.Context, q *Queries, ref HoldRef) error {
	_, err := q.ReleaseHold(ctx, ReleaseHoldParams{HoldID: ref.HoldID, EventID: ref.EventID, HotelID: ref.HotelID})
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	hold, err := readHold(ctx, q, ref)
	if err != nil {
		return err
	}
	if hold.State == HoldConfirmed {
		return ErrHoldConfirmed
	}
	return nil
}

func readHold(ctx context.Context, q *Queries, ref HoldRef) (Hold, error) {
	row, err := q.GetHold(ctx, GetHoldParams{HoldID: ref.HoldID, EventID: ref.EventID, HotelID: ref.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, &NotFoundError{What: fmt.Sprintf("hold %d of event %d hotel %d", ref.HoldID, ref.EventID, ref.HotelID)}
	}
	if err != nil {
		return Hold{}, err
	}
	state := row.State
	if row.Overdue {
		state = HoldExpired
	}
	return Hold{
		ID: row.ID, EventID: ref.EventID, HotelID: ref.HotelID, Name: row.Name, Rooms: row.Rooms,
		State: state, ExpiresAt: row.ExpiresAt, ReservationID: row.ReservationID.Int64,
	}, nil
}

// releaseOverdueHolds gives back the rooms of the hotel's holds that are
// past expiry and returns how many rooms came back.
func releaseOverdueHolds(ctx context.Context, q *Queries, req BookRequest) (int32, error) {
	freed, err := q.ExpireHotelHolds(ctx, ExpireHotelHoldsParams{EventID: req.EventID, HotelID: req.HotelID})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("release overdue holds: %w", err)
	}
	return freed, nil
}

// SweepExpiredHolds expires up to batch overdue holds across all hotels and
// returns how many it expired. Safe to run from every server at once.
func SweepExpiredHolds(ctx context.Context, q *Queries, batch int32) (int64, error) {
	rows, err := q.SweepExpiredHolds(ctx, batch)
	if err != nil {
		return 0, fmt.Errorf("sweep expired holds: %w", classify(err))
	}
	var holds int64
	for _, r := range rows {
		holds += r.Holds
	}
	return holds, nil
}
