package db_test

import (
	"errors"
	"testing"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
)

// Every strategy, one client at a time: the counts are exact and the edges
// answer sold_out and insufficient_rooms.
func TestStrategiesSequential(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			store, bundle := setupFor(t, strategy, 4, 7)
			pool, hotel, ctx := bundle.pool, bundle.hotel, bundle.ctx
			book := func(rooms int32) (evento.Booking, error) {
				return reserve(ctx, store, strategy, hotel.request("alice", rooms))
			}

			first, err := book(5)
			if err != nil {
				t.Fatalf("reserve 5 of 7: %v", err)
			}
			if first.ReservationID <= 0 || first.Rooms != 5 || first.HotelID != hotel.HotelID {
				t.Fatalf("booking = %+v", first)
			}
			_, err = book(3)
			var shortfall *evento.ShortfallError
			if !errors.Is(err, evento.ErrInsufficientRooms) || !errors.As(err, &shortfall) || shortfall.Available != 2 {
				t.Fatalf("reserve 3 of 2 left: err = %v, want insufficient rooms with 2 available", err)
			}
			if _, err := book(2); err != nil {
				t.Fatalf("reserve the last 2: %v", err)
			}
			if _, err := book(1); !errors.Is(err, evento.ErrSoldOut) {
				t.Fatalf("reserve after sell-out: err = %v, want sold out", err)
			}
			_, err = reserve(ctx, store, strategy, evento.BookRequest{EventID: hotel.EventID, HotelID: hotel.HotelID + 1000, Name: "bob", Rooms: 1})
			if !errors.Is(err, evento.ErrNotFound) {
				t.Fatalf("reserve at unknown hotel: err = %v, want not found", err)
			}

			totals := readTotals(t, pool, hotel.HotelID)
			if totals.reserved != 7 || totals.booked != 7 || len(totals.reservationIDs) != 2 {
				t.Fatalf("totals = %+v, want counter 7 and 7 rooms in 2 reservations", totals)
			}
			if totals.reservationIDs[first.ReservationID] != 5 {
				t.Fatalf("reservation %d not stored with 5 rooms: %v", first.ReservationID, totals.reservationIDs)
			}
		})
	}
}
