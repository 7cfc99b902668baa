package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/evento-lab/evento/db"
)

type reserveRequest struct {
	Name  *string `json:"name"`
	Rooms *int64  `json:"rooms"`
}

// canonicalReserve is a reserve request as fingerprinted.
type canonicalReserve struct {
	Name  string `json:"name"`
	Rooms int32  `json:"rooms"`
}

type reserveResponse struct {
	ReservationID int64  `json:"reservation_id"`
	EventID       int64  `json:"event_id"`
	HotelID       int64  `json:"hotel_id"`
	Name          string `json:"name"`
	Rooms         int32  `json:"rooms"`
	Mode          string `json:"mode"`
}

func (s *Server) handleReserve(w http.ResponseWriter, r *http.Request) {
	strategy, req, err := s.parseReserve(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	route := fmt.Sprintf("POST /%d/%d/reserve/%s", req.EventID, req.HotelID, strategy.Name)
	key, err := s.idempotencyKey(r, route, canonicalReserve{req.Name, req.Rooms})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	answer := func(booking db.Booking, err error) (int, any, error) {
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, reserveResponse{
			ReservationID: booking.ReservationID,
			EventID:       booking.EventID,
			HotelID:       booking.HotelID,
			Name:          booking.Name,
			Rooms:         booking.Rooms,
			Mode:          strategy.Name,
		}, nil
	}
	if strategy.Batched && key != nil && s.store.Batcher != nil {
		s.reserveInBatch(w, r, req, key, answer)
		return
	}
	s.perform(w, r, key, strategy.TxPolicy(), func(ctx context.Context, b db.Booker) (int, any, error) {
		return answer(b.Reserve(ctx, strategy, req))
	})
}

// reserveInBatch sends a keyed request through the Batcher, which claims
// the key and stores the outcome in the batch's own transaction.
func (s *Server) reserveInBatch(w http.ResponseWriter, r *http.Request, req db.BookRequest, key *db.IdempotencyKey,
	answer func(db.Booking, error) (int, any, error),
) {
	ctx, cancel := s.writeContext(r)
	defer cancel()
	res := s.store.Batcher.Submit(ctx, db.BatchRequest{
		Book: req, Key: key,
		Render: func(b db.Booking, err error) (db.StoredResponse, error) { return toStored(answer(b, err)) },
	})
	if res.Response == nil {
		s.writeError(w, r, res.Err)
		return
	}
	s.writeStored(w, *res.Response, res.Replayed)
}

// parseReserve validates everything before the database is touched, so a
// rejected request changes nothing.
func (s *Server) parseReserve(w http.ResponseWriter, r *http.Request) (db.Strategy, db.BookRequest, error) {
	eventID, hotelID, err := eventHotelIDs(r)
	if err != nil {
		return db.Strategy{}, db.BookRequest{}, err
	}
	mode := r.PathValue("mode")
	strategy, ok := db.LookupStrategy(mode)
	if !ok {
		return db.Strategy{}, db.BookRequest{}, &Error{Status: http.StatusBadRequest, Code: CodeUnknownMode,
			Message: fmt.Sprintf("unknown mode %q; modes: %s", mode, db.StrategyNames())}
	}
	var body reserveRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return db.Strategy{}, db.BookRequest{}, err
	}
	name, rooms, err := s.validBooking(body.Name, body.Rooms)
	if err != nil {
		return db.Strategy{}, db.BookRequest{}, err
	}
	return strategy, db.BookRequest{EventID: eventID, HotelID: hotelID, Name: name, Rooms: rooms}, nil
}

// validBooking checks the name and rooms every booking request carries.
func (s *Server) validBooking(name *string, rooms *int64) (string, int32, error) {
	if name == nil {
		return "", 0, invalid("name is required")
	}
	if err := validName(*name); err != nil {
		return "", 0, err
	}
	if rooms == nil || *rooms < 1 || *rooms > int64(s.opts.MaxRooms) {
		return "", 0, invalid(fmt.Sprintf("rooms must be an integer from 1 to %d", s.opts.MaxRooms))
	}
	return *name, int32(*rooms), nil
}
