package api

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/evento-lab/evento"
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
	mode, req, err := s.parseReserve(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	route := "POST /" + strconv.FormatInt(req.EventID, 10) + "/" + strconv.FormatInt(req.HotelID, 10) + "/reserve/" + mode
	key, err := s.idempotencyKey(r, route, canonicalReserve{req.Name, req.Rooms})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.writeContext(r)
	defer cancel()
	outcome, err := s.svc.Reserve(ctx, mode, req, key)
	writeOutcome(s, w, r, outcome, err, func(booking evento.Booking) (int, any) {
		return http.StatusCreated, reserveResponse{
			ReservationID: booking.ReservationID,
			EventID:       booking.EventID,
			HotelID:       booking.HotelID,
			Name:          booking.Name,
			Rooms:         booking.Rooms,
			Mode:          mode,
		}
	})
}

// parseReserve validates everything before the database is touched, so a
// rejected request changes nothing.
func (s *Server) parseReserve(w http.ResponseWriter, r *http.Request) (string, evento.BookRequest, error) {
	eventID, hotelID, err := eventHotelIDs(r)
	if err != nil {
		return "", evento.BookRequest{}, err
	}
	mode := r.PathValue("mode")
	if !slices.Contains(s.modes, mode) {
		return "", evento.BookRequest{}, newError(evento.ErrUnknownMode,
			fmt.Sprintf("unknown mode %s; modes: %s", echo(mode), strings.Join(s.modes, ", ")))
	}
	if !slices.Contains(s.enabled, mode) {
		return "", evento.BookRequest{}, newError(evento.ErrModeDisabled,
			fmt.Sprintf("mode %q is disabled on this server; enabled modes: %s", mode, strings.Join(s.enabled, ", ")))
	}
	var body reserveRequest
	if err := decodeJSON(w, r, &body); err != nil {
		return "", evento.BookRequest{}, err
	}
	name, rooms, err := s.validBooking(body.Name, body.Rooms)
	if err != nil {
		return "", evento.BookRequest{}, err
	}
	who := callerOf(r)
	return mode, evento.BookRequest{
		EventID: eventID, HotelID: hotelID, Name: name, Rooms: rooms,
		Client: who.client, MaxRoomsPerEvent: who.maxRoomsPerEvent,
	}, nil
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

// enabledModes is Options.Modes, or every mode when it is empty. A name
// that is not a mode is a bug of whoever wired the server (evento serve
// checks --modes first), and serving on regardless could serve less, or
// more, than was meant.
func enabledModes(modes, wanted []string) []string {
	if len(wanted) == 0 {
		return modes
	}
	for _, name := range wanted {
		if !slices.Contains(modes, name) {
			panic(fmt.Sprintf("api: Options.Modes names %q; modes: %s", name, strings.Join(modes, ", ")))
		}
	}
	return slices.Clone(wanted)
}
