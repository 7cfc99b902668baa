package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/evento-lab/evento"
)

// defaultHoldTTL is a hold's life when the request does not say.
const defaultHoldTTL = 300

// DefaultMaxHoldTTL is the longest hold a client may ask for unless the
// server says otherwise: a hold is rooms nobody else can book, so one
// client may not keep them for hours.
const DefaultMaxHoldTTL = 15 * time.Minute

// DefaultHoldCooldown is serve's --hold-cooldown: as long as the longest
// hold. A client that lets its rooms go, by release or expiry, cannot take
// them back before whoever waited for them (told Retry-After) has, and its
// holds at one hotel fill at most two longest holds in every two plus
// this one (docs/security.md).
const DefaultHoldCooldown = DefaultMaxHoldTTL

type holdRequest struct {
	Name       *string `json:"name"`
	Rooms      *int64  `json:"rooms"`
	TTLSeconds *int64  `json:"ttl_seconds"`
}

// canonicalHold is a hold request after defaults, for fingerprints.
type canonicalHold struct {
	Name       string `json:"name"`
	Rooms      int32  `json:"rooms"`
	TTLSeconds int64  `json:"ttl_seconds"`
}

type holdResponse struct {
	HoldID        string `json:"hold_id"`
	EventID       int64  `json:"event_id"`
	HotelID       int64  `json:"hotel_id"`
	Name          string `json:"name"`
	Rooms         int32  `json:"rooms"`
	State         string `json:"state"`
	ExpiresAt     string `json:"expires_at"`
	ReservationID *int64 `json:"reservation_id,omitempty"`
}

type confirmResponse struct {
	ReservationID int64  `json:"reservation_id"`
	HoldID        string `json:"hold_id"`
	EventID       int64  `json:"event_id"`
	HotelID       int64  `json:"hotel_id"`
	Rooms         int32  `json:"rooms"`
}

func toHoldResponse(h evento.Hold) holdResponse {
	resp := holdResponse{
		HoldID: h.Handle, EventID: h.EventID, HotelID: h.HotelID, Name: h.Name, Rooms: h.Rooms,
		State: h.State, ExpiresAt: h.ExpiresAt.UTC().Format(time.RFC3339Nano),
	}
	if h.ReservationID != 0 {
		resp.ReservationID = &h.ReservationID
	}
	return resp
}

func (s *Server) handlePlaceHold(w http.ResponseWriter, r *http.Request) {
	eventID, hotelID, err := eventHotelIDs(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var body holdRequest
	if err := decodeJSON(w, r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	name, rooms, err := s.validBooking(body.Name, body.Rooms)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ttl := int64(defaultHoldTTL)
	if body.TTLSeconds != nil {
		ttl = *body.TTLSeconds
	}
	maxTTL := int64(s.opts.MaxHoldTTL / time.Second)
	if ttl < 1 || ttl > maxTTL {
		s.writeError(w, r, invalid(fmt.Sprintf("ttl_seconds must be an integer from 1 to %d", maxTTL)))
		return
	}
	who := callerOf(r)
	req := evento.HoldRequest{
		BookRequest: evento.BookRequest{
			EventID: eventID, HotelID: hotelID, Name: name, Rooms: rooms,
			Client: who.client, MaxRoomsPerEvent: who.maxRoomsPerEvent,
		},
		TTL:          time.Duration(ttl) * time.Second,
		MaxHeldRooms: who.maxHeldRooms,
		Cooldown:     max(s.opts.HoldCooldown, 0),
	}
	key, err := s.idempotencyKey(r, fmt.Sprintf("POST /%d/%d/holds", eventID, hotelID), canonicalHold{name, rooms, ttl})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.writeContext(r)
	defer cancel()
	outcome, err := s.svc.PlaceHold(ctx, req, key)
	writeOutcome(s, w, r, outcome, err, func(hold evento.Hold) (int, any) {
		return http.StatusCreated, toHoldResponse(hold)
	})
}

func (s *Server) handleConfirmHold(w http.ResponseWriter, r *http.Request) {
	ref, err := holdRef(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := requireEmptyBody(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	key, err := s.idempotencyKey(r, fmt.Sprintf("POST /%d/%d/holds/%s/confirm", ref.EventID, ref.HotelID, ref.Handle), struct{}{})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.writeContext(r)
	defer cancel()
	outcome, err := s.svc.ConfirmHold(ctx, ref, key)
	writeOutcome(s, w, r, outcome, err, func(c evento.Confirmation) (int, any) {
		status := http.StatusCreated
		if c.Earlier {
			status = http.StatusOK
		}
		return status, confirmResponse{
			ReservationID: c.ReservationID, HoldID: c.HoldHandle,
			EventID: c.EventID, HotelID: c.HotelID, Rooms: c.Rooms,
		}
	})
}

func (s *Server) handleReleaseHold(w http.ResponseWriter, r *http.Request) {
	ref, err := holdRef(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.writeContext(r)
	defer cancel()
	if err := s.svc.ReleaseHold(ctx, ref); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleGetHold(w http.ResponseWriter, r *http.Request) {
	ref, err := holdRef(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := s.queryContext(r)
	defer cancel()
	hold, err := s.svc.Hold(ctx, ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toHoldResponse(hold), s.log)
}

func holdRef(r *http.Request) (evento.HoldRef, error) {
	eventID, hotelID, err := eventHotelIDs(r)
	if err != nil {
		return evento.HoldRef{}, err
	}
	handle := r.PathValue("hold_id")
	if !plausibleHoldHandle(handle) {
		// The same answer as for a hold that is not there, or not yours:
		// the shape of a guess earns no hint.
		return evento.HoldRef{}, evento.HoldNotFound(eventID, hotelID)
	}
	return evento.HoldRef{EventID: eventID, HotelID: hotelID, Handle: handle, Client: callerOf(r).client}, nil
}

// plausibleHoldHandle rejects what no server ever handed out (db draws
// "hold_" and 22 base64url characters) without asking the database.
func plausibleHoldHandle(h string) bool {
	rest, ok := strings.CutPrefix(h, "hold_")
	if !ok || len(rest) != 22 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
