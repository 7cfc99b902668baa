package api

import (
	"fmt"
	"net/http"

	"github.com/evento-lab/evento/db"
)

type reserveRequest struct {
	Name  *string `json:"name"`
	Rooms *int64  `json:"rooms"`
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
	ctx, cancel := s.queryContext(r)
	defer cancel()
	booking, err := s.store.Reserve(ctx, strategy, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, reserveResponse{
		ReservationID: booking.ReservationID,
		EventID:       booking.EventID,
		HotelID:       booking.HotelID,
		Name:          booking.Name,
		Rooms:         booking.Rooms,
		Mode:          strategy.Name,
	}, s.log)
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
	if body.Name == nil {
		return db.Strategy{}, db.BookRequest{}, invalid("name is required")
	}
	if err := validName(*body.Name); err != nil {
		return db.Strategy{}, db.BookRequest{}, err
	}
	if body.Rooms == nil || *body.Rooms < 1 || *body.Rooms > int64(s.opts.MaxRooms) {
		return db.Strategy{}, db.BookRequest{}, invalid(fmt.Sprintf("rooms must be an integer from 1 to %d", s.opts.MaxRooms))
	}
	return strategy, db.BookRequest{EventID: eventID, HotelID: hotelID, Name: *body.Name, Rooms: int32(*body.Rooms)}, nil
}
