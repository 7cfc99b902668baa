package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/labdb"
)

// safeModes are the modes a default server serves.
var safeModes = []string{"pessimistic", "atomic", "optimistic", "serializable", "advisory", "sharded", "batched"}

// One key, over two servers, for every safe mode: 40 bookings of one room
// at once, half through each server and over both hotels of the event,
// book exactly the client's limit (10); the others are refused with 409
// client_limit, whose message names the limit and what the client has.
// A cancel through either server gives the rooms back, to its owner only.
func TestClientLimitOverTwoServers(t *testing.T) {
	t.Parallel()
	for _, mode := range safeModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			spec := labdb.SeedSpec{Name: "Gophercon", Hotels: 2, Rooms: 50}
			if mode == "sharded" {
				spec.Buckets = 4
			}
			f := newFixtureOf(t, spec, api.Options{Auth: api.AuthKeys})
			g := f.secondServer(t, api.Options{Auth: api.AuthKeys})
			mallory, bob := f.addClient(t, "mallory", 0), f.addClient(t, "bob", 0)

			var mu sync.Mutex
			statuses := map[int]int{}
			var ids []string
			var refusal response
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					server := []*fixture{f, g}[i%2]
					// A 503 (forty bookings queue on the client's lock, which
					// a loaded machine can hold past the query timeout) wrote
					// nothing: resent with its key, as a client does, until
					// a final answer.
					var r response
					for attempt := 0; attempt < 20; attempt++ {
						r = server.withKey(t, "POST", f.reservePath(i/2%2, mode), `{"name":"mallory","rooms":1}`, mallory,
							"Idempotency-Key", fmt.Sprintf("order-%d", i))
						if r.status != http.StatusServiceUnavailable {
							break
						}
						time.Sleep(100 * time.Millisecond)
					}
					mu.Lock()
					defer mu.Unlock()
					statuses[r.status]++
					switch r.status {
					case http.StatusCreated:
						ids = append(ids, fmt.Sprint(r.body["reservation_id"]))
					case http.StatusConflict:
						refusal = r
					}
				})
			}
			wg.Wait()
			if statuses[http.StatusCreated] != 10 || statuses[http.StatusConflict] != 30 {
				t.Fatalf("40 bookings of 1 room under a limit of 10: %v", statuses)
			}
			if code, msg := errorCode(t, refusal), errorMessage(t, refusal); code != "client_limit" ||
				!strings.Contains(msg, "has 10 rooms at event") || !strings.Contains(msg, "may have 10") {
				t.Fatalf("the refusal: %s %q", code, msg)
			}
			var keys int
			if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys WHERE outcome IS NOT NULL`).Scan(&keys); err != nil || keys != 0 {
				t.Fatalf("%d refusals kept under their keys (%v)", keys, err)
			}

			// Cancel one of the hotel-0 bookings, whichever server booked it.
			var id, hotel int64
			if err := f.pool.QueryRow(context.Background(), `SELECT r.id, ehr.hotel_id FROM reservations r
				JOIN event_hotel_rooms ehr ON ehr.id = r.event_hotel_rooms_id ORDER BY r.id LIMIT 1`).Scan(&id, &hotel); err != nil {
				t.Fatal(err)
			}
			path := fmt.Sprintf("/%d/%d/reservations/%d", f.eventID, hotel, id)
			anonymous := f.secondServer(t, api.Options{Auth: api.AuthNone})
			if r := f.withKey(t, "DELETE", path, "", bob); r.status != http.StatusNotFound || errorCode(t, r) != "not_found" {
				t.Fatalf("bob cancels mallory's reservation: %d %s", r.status, r.raw)
			}
			if r := anonymous.do(t, "DELETE", path, ""); r.status != http.StatusNotFound {
				t.Fatalf("the anonymous client cancels mallory's reservation: %d %s", r.status, r.raw)
			}
			for _, server := range []*fixture{g, f} {
				if r := server.withKey(t, "DELETE", path, "", mallory); r.status != http.StatusNoContent {
					t.Fatalf("mallory cancels her reservation: %d %s", r.status, r.raw)
				}
			}
			if r := f.withKey(t, "POST", f.reservePath(1, mode), `{"name":"mallory","rooms":1}`, mallory,
				"Idempotency-Key", "order-0-again"); r.status != http.StatusCreated {
				t.Fatalf("after a cancel: %d %s", r.status, r.raw)
			}
			var reserved, live int
			if err := f.pool.QueryRow(context.Background(), `
				SELECT (SELECT sum(reserved) FROM event_hotel_rooms) + coalesce((SELECT sum(reserved) FROM room_buckets), 0),
				       (SELECT sum(number) FROM reservations WHERE cancelled_at IS NULL)`).Scan(&reserved, &live); err != nil {
				t.Fatal(err)
			}
			if reserved != 10 || live != 10 {
				t.Fatalf("counters %d, live reservations %d: want 10 and 10", reserved, live)
			}
		})
	}
}

// A client's own limit (evento clients add --max-rooms-per-event) wins
// over the server's; holds count; the anonymous client of --auth none has
// no limit at all, whatever the server's.
func TestClientLimitIsPerClientAndNeverAnonymous(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 50, api.Options{Auth: api.AuthKeys, MaxRoomsPerClient: 4})
	_, own, err := db.CreateClient(context.Background(), f.pool, "box-office", 0, 20)
	if err != nil {
		t.Fatal(err)
	}
	server := f.addClient(t, "mallory", 0)
	for _, c := range []struct {
		key  string
		want int
	}{{server, 4}, {own, 20}} {
		if r := f.withKey(t, "POST", f.holdsPath(1), `{"name":"x","rooms":2}`, c.key); r.status != http.StatusCreated {
			t.Fatalf("a hold: %d %s", r.status, r.raw)
		}
		booked := 2
		for booked < c.want {
			if r := f.withKey(t, "POST", f.reservePath(0, "atomic"), `{"name":"x","rooms":1}`, c.key); r.status != http.StatusCreated {
				t.Fatalf("room %d of %d: %d %s", booked+1, c.want, r.status, r.raw)
			}
			booked++
		}
		if r := f.withKey(t, "POST", f.reservePath(1, "atomic"), `{"name":"x","rooms":1}`, c.key); errorCode(t, r) != "client_limit" {
			t.Fatalf("past %d rooms: %d %s", c.want, r.status, r.raw)
		}
		if r := f.withKey(t, "POST", f.holdsPath(1), `{"name":"x","rooms":1}`, c.key); errorCode(t, r) != "client_limit" {
			t.Fatalf("a hold past %d rooms: %d %s", c.want, r.status, r.raw)
		}
	}

	anonymous := newFixture(t, 50, api.Options{MaxRoomsPerClient: 2, MaxHeldRooms: -1})
	for i := range 6 {
		if r := anonymous.do(t, "POST", anonymous.reservePath(0, "atomic"), `{"name":"x","rooms":5}`); r.status != http.StatusCreated {
			t.Fatalf("anonymous booking %d: %d %s", i, r.status, r.raw)
		}
	}
}
