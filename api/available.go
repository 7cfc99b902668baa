package api

import (
	"net/http"

	"github.com/evento-lab/evento"
)

type hotelAvailability struct {
	HotelID   int64  `json:"hotel_id"`
	Name      string `json:"name"`
	Assigned  int32  `json:"assigned"`
	Reserved  int32  `json:"reserved"`
	Locked    int32  `json:"locked"`
	Available int32  `json:"available"`
}

type eventAvailabilityResponse struct {
	EventID   int64               `json:"event_id"`
	Available int64               `json:"available"`
	Hotels    []hotelAvailability `json:"hotels"`
}

type hotelAvailabilityResponse struct {
	EventID   int64 `json:"event_id"`
	HotelID   int64 `json:"hotel_id"`
	Assigned  int32 `json:"assigned"`
	Reserved  int32 `json:"reserved"`
	Locked    int32 `json:"locked"`
	Available int32 `json:"available"`
}

func (s *Server) handleEventAvailability(w http.ResponseWriter, r *http.Request) {
	eventID, err := pathID(r, "event_id")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.queryContext(r)
	defer cancel()
	hotels, err := s.svc.Event(ctx, eventID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp := eventAvailabilityResponse{EventID: eventID, Hotels: make([]hotelAvailability, len(hotels))}
	for i, h := range hotels {
		resp.Hotels[i] = hotelAvailability{
			HotelID: h.HotelID, Name: h.HotelName,
			Assigned: h.Assigned, Reserved: h.Reserved, Locked: h.Locked, Available: h.Available(),
		}
		resp.Available += int64(h.Available())
	}
	writeJSON(w, http.StatusOK, resp, s.log)
}

func (s *Server) handleHotelAvailability(w http.ResponseWriter, r *http.Request) {
	eventID, hotelID, err := eventHotelIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.queryContext(r)
	defer cancel()
	h, err := s.svc.Hotel(ctx, eventID, hotelID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toHotelAvailabilityResponse(h), s.log)
}

func toHotelAvailabilityResponse(h evento.HotelAvailability) hotelAvailabilityResponse {
	return hotelAvailabilityResponse{
		EventID: h.EventID, HotelID: h.HotelID,
		Assigned: h.Assigned, Reserved: h.Reserved, Locked: h.Locked, Available: h.Available(),
	}
}
