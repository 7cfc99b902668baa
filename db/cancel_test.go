package db_test

import (
	"errors"
	"testing"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
)

// A cancel is its owner's only: another client, and the anonymous client,
// get not_found exactly as for a missing reservation, and nothing changes.
// The owner's cancel gives the rooms back to the hotel, and a second one
// answers the same and changes nothing. For every safe strategy, so a
// sharded booking scattered over several buckets too.
func TestCancelGivesTheRoomsBackForItsOwnerOnly(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		if !strategy.Safe {
			continue
		}
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			w := newLimitWorld(t, strategy, 20)
			other, _, err := db.CreateClient(w.ctx, w.pool, "other", 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			// 18 of 20: with 4 buckets of 5, the last booking is scattered.
			var bookings []evento.Booking
			for _, rooms := range []int32{5, 5, 4, 4} {
				b, err := reserve(w.ctx, w.store, strategy, w.ask(0, rooms, 0))
				if err != nil {
					t.Fatal(err)
				}
				bookings = append(bookings, b)
			}
			last := bookings[len(bookings)-1]
			ref := evento.ReservationRef{EventID: last.EventID, HotelID: last.HotelID, ReservationID: last.ReservationID, Client: w.client}
			missing := ref
			missing.ReservationID = last.ReservationID + 1000
			otherHotel := ref
			otherHotel.HotelID = w.hotels[1].HotelID
			notYours, anonymous := ref, ref
			notYours.Client, anonymous.Client = other.ID, evento.Anonymous
			for _, c := range []struct {
				what string
				ref  evento.ReservationRef
			}{{"missing", missing}, {"another hotel's", otherHotel}, {"another client's", notYours}, {"the anonymous client's", anonymous}} {
				err := w.store.CancelReservation(w.ctx, c.ref)
				// Word for word the answer for a missing one: only the
				// ids asked for appear in it.
				want := evento.ReservationNotFound(c.ref.EventID, c.ref.HotelID, c.ref.ReservationID)
				var nf *evento.NotFoundError
				if !errors.As(err, &nf) || !errors.Is(err, evento.ErrNotFound) || nf.Error() != want.Error() {
					t.Fatalf("cancel %s: %v, want %v", c.what, err, want)
				}
			}
			if totals := readTotals(t, w.pool, w.hotels[0].HotelID); totals.reserved != 18 || totals.booked != 18 {
				t.Fatalf("refused cancels changed the hotel: %d reserved, %d booked", totals.reserved, totals.booked)
			}
			for range 2 {
				if err := w.store.CancelReservation(w.ctx, ref); err != nil {
					t.Fatalf("the owner's cancel: %v", err)
				}
				if totals := readTotals(t, w.pool, w.hotels[0].HotelID); totals.reserved != 14 || totals.booked != 14 {
					t.Fatalf("after the cancel: %d reserved, %d booked; want 14 and 14", totals.reserved, totals.booked)
				}
			}
			// The rooms are bookable again, by the strategy that gave them.
			if _, err := reserve(w.ctx, w.store, strategy, w.ask(0, 4, 0)); err != nil {
				t.Fatalf("booking the cancelled rooms again: %v", err)
			}
			if n := queryInt(t, w.pool, `SELECT count(*) FROM room_buckets WHERE reserved < 0 OR reserved > assigned`); n != 0 {
				t.Fatalf("%d buckets out of bounds", n)
			}
		})
	}
}
