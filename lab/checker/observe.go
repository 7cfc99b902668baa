package checker

import (
	"context"

	"github.com/evento-lab/evento/lab/client"
)

// Observer reads what the system of record holds for every hotel of a run,
// once before the load (evento load on an event that is not fresh) and once
// after it.
type Observer func(context.Context) ([]Observed, error)

// ThroughAPI observes an event through a server's API. It sees only the
// counters: booked is taken to be the counter, and the report says so.
func ThroughAPI(api *client.API, eventID int64) Observer {
	return func(ctx context.Context) ([]Observed, error) {
		hotels, err := api.Event(ctx, eventID)
		if err != nil {
			return nil, err
		}
		observed := make([]Observed, len(hotels))
		for i, h := range hotels {
			observed[i] = Observed{
				EventID: eventID, HotelID: h.HotelID, Assigned: h.Assigned,
				Reserved: h.Reserved, Locked: h.Locked, Booked: h.Reserved,
			}
		}
		return observed, nil
	}
}

// Since makes after relative to before, hotel by hotel, so that a load on
// an event that was not fresh is judged on what it booked itself. It returns
// the rooms booked before.
func Since(after, before []Observed) (bookedBefore int64) {
	for i := range after {
		for _, b := range before {
			if b.HotelID == after[i].HotelID {
				after[i].BookedBefore, after[i].ReservedBefore = b.Booked, b.Reserved
				bookedBefore += b.Booked
			}
		}
	}
	return bookedBefore
}

// LeaveOutOthers judges a load that books as one client on that client's
// rows only: what other clients booked or cancelled on the same event
// while it ran (after's OthersBooked against before's) is taken as booked
// before, in the rows and in the counter alike, so that the counter is
// still held to all of the hotel's rows. Call it after Since. It returns
// the rooms the others booked meanwhile (less what they cancelled).
func LeaveOutOthers(after, before []Observed) (othersDuring int64) {
	for i := range after {
		var othersBefore int64
		for _, b := range before {
			if b.HotelID == after[i].HotelID {
				othersBefore = b.OthersBooked
			}
		}
		during := after[i].OthersBooked - othersBefore
		after[i].BookedBefore += during
		after[i].ReservedBefore += during
		othersDuring += during
	}
	return othersDuring
}
