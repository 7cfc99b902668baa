package api

import (
	"net/http"

	"github.com/evento-lab/evento"
)

// handleCancelReservation cancels one of the caller's reservations: 204,
// the second time too; another client's reservation is a missing one (404).
func (s *Server) handleCancelReservation(w http.ResponseWriter, r *http.Request) {
	eventID, hotelID, err := eventHotelIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathID(r, "reservation_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.writeContext(r)
	defer cancel()
	ref := evento.ReservationRef{EventID: eventID, HotelID: hotelID, ReservationID: id, Client: callerOf(r).client}
	if err := s.svc.CancelReservation(ctx, ref); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
