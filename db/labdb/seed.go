package labdb

import (
	"github.com/evento-lab/evento/db/internal/dbsqlc"

	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SeededEvent is an event Seed created, with its hotels.
type SeededEvent struct {
	EventID int64         `json:"event_id"`
	Hotels  []SeededHotel `json:"hotels"`
}

// SeededHotel is a hotel Seed created and the rooms it assigned to the event.
type SeededHotel struct {
	HotelID int64  `json:"hotel_id"`
	Name    string `json:"name"`
	Rooms   int32  `json:"rooms"`
	// Buckets is how many bucket rows its rooms are split into (0: none).
	Buckets int `json:"buckets,omitempty"`
}

// SeedSpec says how much to create.
type SeedSpec struct {
	Name   string // event name
	Hotels int
	Rooms  int32 // per hotel
	// Buckets, when above 0, splits each hotel's rooms into that many
	// bucket rows, the layout the sharded strategy books (see
	// sql/00006_room_buckets.sql).
	Buckets int
}

// Seed creates one new event with spec.Hotels new hotels of spec.Rooms rooms
// each, in one transaction. It never touches existing data.
func Seed(ctx context.Context, pool *pgxpool.Pool, spec SeedSpec) (SeededEvent, error) {
	var event SeededEvent
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := dbsqlc.New()
		eventID, err := q.CreateEvent(ctx, tx, spec.Name)
		if err != nil {
			return fmt.Errorf("create event: %w", err)
		}
		event = SeededEvent{EventID: eventID, Hotels: make([]SeededHotel, 0, spec.Hotels)}
		for i := range spec.Hotels {
			name := hotelName(i)
			hotelID, err := q.CreateHotel(ctx, tx, name)
			if err != nil {
				return fmt.Errorf("create hotel: %w", err)
			}
			rowID, err := q.AssignRooms(ctx, tx, dbsqlc.AssignRoomsParams{EventID: eventID, HotelID: hotelID, Assigned: spec.Rooms})
			if err != nil {
				return fmt.Errorf("assign %d rooms: %w", spec.Rooms, err)
			}
			if spec.Buckets > 0 {
				if err := q.SplitIntoBuckets(ctx, tx, dbsqlc.SplitIntoBucketsParams{EventHotelRoomsID: rowID, Buckets: int32(spec.Buckets)}); err != nil {
					return fmt.Errorf("split %d rooms into %d buckets: %w", spec.Rooms, spec.Buckets, err)
				}
			}
			event.Hotels = append(event.Hotels, SeededHotel{HotelID: hotelID, Name: name, Rooms: spec.Rooms, Buckets: spec.Buckets})
		}
		return nil
	})
	if err != nil {
		return SeededEvent{}, fmt.Errorf("seed event with %d hotels: %w", spec.Hotels, err)
	}
	return event, nil
}

// hotelName names hotels A, B, C... as people would on a whiteboard.
func hotelName(i int) string {
	if i < 26 {
		return fmt.Sprintf("Hotel %c", 'A'+i)
	}
	return fmt.Sprintf("Hotel %d", i+1)
}
