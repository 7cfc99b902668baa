package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type fixture struct {
	pool    *pgxpool.Pool
	server  *httptest.Server
	eventID int64
	hotels  []labdb.SeededHotel
}

// newFixture serves the real API over real HTTP on a fresh database seeded
// with one event of two hotels.
func newFixture(t *testing.T, rooms int32, opts api.Options) *fixture {
	t.Helper()
	return newFixtureOf(t, labdb.SeedSpec{Name: "Gophercon", Hotels: 2, Rooms: rooms}, opts)
}

// newFixtureOf is newFixture with the event seeded as spec says.
func newFixtureOf(t *testing.T, spec labdb.SeedSpec, opts api.Options) *fixture {
	t.Helper()
	pool := dbtest.NewPool(t, 10)
	event, err := labdb.Seed(context.Background(), pool, spec)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pool: pool, server: serve(t, pool, opts), eventID: event.EventID, hotels: event.Hotels}
}

// serve serves the real API on pool over real HTTP until the test ends,
// logging nowhere unless opts says where.
func serve(t *testing.T, pool *pgxpool.Pool, opts api.Options) *httptest.Server {
	t.Helper()
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	server := httptest.NewServer(api.NewServer(db.NewStore(pool, db.Options{}), opts))
	t.Cleanup(server.Close)
	return server
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (f *fixture) do(t *testing.T, method, path, body string) response {
	t.Helper()
	return f.send(t, method, path, body, nil)
}

// send makes one request with extra headers and reads the whole answer.
func (f *fixture) send(t *testing.T, method, path, body string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, f.server.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// What any JSON client sends; a test that wants another Content-Type,
	// or none (a nil value), says so in header.
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := f.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, header: resp.Header, raw: readAll(t, resp)}
	if len(r.raw) > 0 && json.Unmarshal([]byte(r.raw), &r.body) != nil {
		t.Fatalf("body is not a JSON object: %q", r.raw)
	}
	return r
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func (f *fixture) reservePath(hotel int, mode string) string {
	return fmt.Sprintf("/%d/%d/reserve/%s", f.eventID, f.hotels[hotel].HotelID, mode)
}

// errorCode returns the code of a JSON error body, failing on any other shape.
func errorCode(t *testing.T, r response) string {
	t.Helper()
	e, ok := r.body["error"].(map[string]any)
	if !ok || len(r.body) != 1 {
		t.Fatalf("not an error body: %s", r.raw)
	}
	code, _ := e["code"].(string)
	message, _ := e["message"].(string)
	if code == "" || message == "" || len(e) != 2 {
		t.Fatalf("error body needs exactly a code and a message: %s", r.raw)
	}
	return code
}

// errorMessage returns the message of a JSON error body.
func errorMessage(t *testing.T, r response) string {
	t.Helper()
	errorCode(t, r)
	return r.body["error"].(map[string]any)["message"].(string)
}

// refusal is a bad request and the error it must get.
type refusal struct {
	name, method, path, body string
	status                   int
	code                     string
}

// assertRefused sends each request and checks its status and code, and
// that the database is exactly as before.
func (f *fixture) assertRefused(t *testing.T, cases []refusal) {
	t.Helper()
	before := f.dbState(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, c.method, c.path, c.body)
			if r.status != c.status || errorCode(t, r) != c.code {
				t.Fatalf("%d %s; want %d %s", r.status, r.raw, c.status, c.code)
			}
			f.assertUnchanged(t, before)
		})
	}
}

// assertUnchanged fails the test when the database is not as before.
func (f *fixture) assertUnchanged(t *testing.T, before string) {
	t.Helper()
	if after := f.dbState(t); after != before {
		t.Fatalf("database changed: %s -> %s", before, after)
	}
}

// dbState is everything a rejected request must leave untouched.
func (f *fixture) dbState(t *testing.T) string {
	t.Helper()
	var state string
	err := f.pool.QueryRow(context.Background(), `
		SELECT (SELECT string_agg(format('%s:%s/%s/%s', id, assigned, reserved, locked), ',' ORDER BY id) FROM event_hotel_rooms)
		    || '|' || coalesce((SELECT string_agg(format('%s:%s/%s', id, assigned, reserved), ',' ORDER BY id) FROM room_buckets), '')
		    || '|' || (SELECT count(*) FROM reservations)
		    || '|' || coalesce((SELECT string_agg(format('%s:%s', id, state), ',' ORDER BY id) FROM holds), '')
		    || '|' || (SELECT count(*) FROM idempotency_keys)`).Scan(&state)
	if err != nil {
		t.Fatal(err)
	}
	return state
}

func TestReserveAndAvailabilityShapes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})

	r := f.do(t, "POST", f.reservePath(0, "atomic"), `{"name":"alice","rooms":3}`)
	if r.status != http.StatusCreated {
		t.Fatalf("reserve: %d %s", r.status, r.raw)
	}
	if r.body["rooms"] != 3.0 || r.body["name"] != "alice" || r.body["mode"] != "atomic" ||
		r.body["event_id"] != float64(f.eventID) || r.body["hotel_id"] != float64(f.hotels[0].HotelID) {
		t.Fatalf("reserve body: %s", r.raw)
	}
	if id, ok := r.body["reservation_id"].(float64); !ok || id <= 0 {
		t.Fatalf("reservation_id missing: %s", r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}

	r = f.do(t, "GET", fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[0].HotelID), "")
	want := fmt.Sprintf(`{"event_id":%d,"hotel_id":%d,"assigned":10,"reserved":3,"locked":0,"available":7}`, f.eventID, f.hotels[0].HotelID)
	if r.status != http.StatusOK || strings.TrimSpace(r.raw) != want {
		t.Fatalf("hotel availability: %d %s\nwant %s", r.status, r.raw, want)
	}

	r = f.do(t, "GET", fmt.Sprintf("/%d/available", f.eventID), "")
	want = fmt.Sprintf(`{"event_id":%d,"available":17,"hotels":[`+
		`{"hotel_id":%d,"name":%q,"assigned":10,"reserved":3,"locked":0,"available":7},`+
		`{"hotel_id":%d,"name":%q,"assigned":10,"reserved":0,"locked":0,"available":10}]}`,
		f.eventID, f.hotels[0].HotelID, f.hotels[0].Name, f.hotels[1].HotelID, f.hotels[1].Name)
	if r.status != http.StatusOK || strings.TrimSpace(r.raw) != want {
		t.Fatalf("event availability: %d %s\nwant %s", r.status, r.raw, want)
	}

	if r := f.do(t, "GET", "/healthz", ""); r.status != http.StatusOK || r.body["status"] != "ok" {
		t.Fatalf("healthz: %d %s", r.status, r.raw)
	}
}

func TestEveryModeSellsOutWithClearCodes(t *testing.T) {
	t.Parallel()
	for _, strategy := range db.Strategies {
		t.Run(strategy.Name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 6, api.Options{})
			steps := []struct {
				body   string
				status int
				code   string
			}{
				{`{"name":"a","rooms":5}`, http.StatusCreated, ""},
				{`{"name":"b","rooms":2}`, http.StatusConflict, "insufficient_rooms"},
				{`{"name":"c","rooms":1}`, http.StatusCreated, ""},
				{`{"name":"d","rooms":1}`, http.StatusConflict, "sold_out"},
			}
			for _, step := range steps {
				r := f.do(t, "POST", f.reservePath(1, strategy.Name), step.body)
				if r.status != step.status || (step.code != "" && errorCode(t, r) != step.code) {
					t.Fatalf("%s: %d %s; want %d %s", step.body, r.status, r.raw, step.status, step.code)
				}
			}
		})
	}
}

func TestBadRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{})
	good := f.reservePath(0, "atomic")
	cases := []refusal{
		{"event id not a number", "POST", fmt.Sprintf("/abc/%d/reserve/atomic", f.hotels[0].HotelID), `{"name":"a","rooms":1}`, 400, "invalid_request"},
		{"event id zero", "POST", fmt.Sprintf("/0/%d/reserve/atomic", f.hotels[0].HotelID), `{"name":"a","rooms":1}`, 400, "invalid_request"},
		{"event id negative", "GET", "/-4/available", "", 400, "invalid_request"},
		{"event id overflows", "GET", "/99999999999999999999/available", "", 400, "invalid_request"},
		{"hotel id not a number", "POST", fmt.Sprintf("/%d/x/reserve/atomic", f.eventID), `{"name":"a","rooms":1}`, 400, "invalid_request"},
		{"unknown mode", "POST", f.reservePath(0, "yolo"), `{"name":"a","rooms":1}`, 400, "unknown_mode"},
		{"empty body", "POST", good, ``, 400, "invalid_request"},
		{"not JSON", "POST", good, `rooms=3`, 400, "invalid_request"},
		{"truncated JSON", "POST", good, `{"name":"a","rooms":`, 400, "invalid_request"},
		{"JSON array", "POST", good, `[1,2]`, 400, "invalid_request"},
		{"unknown field", "POST", good, `{"name":"a","rooms":1,"vip":true}`, 400, "invalid_request"},
		// encoding/json keeps the last copy: this booked 2 rooms.
		{"rooms twice", "POST", good, `{"rooms":1,"name":"a","rooms":2}`, 400, "duplicate_field"},
		{"name twice", "POST", good, `{"name":"a","rooms":1,"name":"b"}`, 400, "duplicate_field"},
		{"trailing data", "POST", good, `{"name":"a","rooms":1} {"name":"b","rooms":1}`, 400, "invalid_request"},
		{"trailing garbage", "POST", good, `{"name":"a","rooms":1}x`, 400, "invalid_request"},
		{"rooms fractional", "POST", good, `{"name":"a","rooms":1.5}`, 400, "invalid_request"},
		{"rooms string", "POST", good, `{"name":"a","rooms":"2"}`, 400, "invalid_request"},
		{"rooms missing", "POST", good, `{"name":"a"}`, 400, "invalid_request"},
		{"rooms null", "POST", good, `{"name":"a","rooms":null}`, 400, "invalid_request"},
		{"rooms zero", "POST", good, `{"name":"a","rooms":0}`, 400, "invalid_request"},
		{"rooms negative", "POST", good, `{"name":"a","rooms":-2}`, 400, "invalid_request"},
		{"rooms over max", "POST", good, `{"name":"a","rooms":6}`, 400, "invalid_request"},
		{"rooms huge", "POST", good, `{"name":"a","rooms":1e30}`, 400, "invalid_request"},
		{"name missing", "POST", good, `{"rooms":1}`, 400, "invalid_request"},
		{"name empty", "POST", good, `{"name":"","rooms":1}`, 400, "invalid_request"},
		{"name blank", "POST", good, `{"name":"   ","rooms":1}`, 400, "invalid_request"},
		{"name too long", "POST", good, `{"name":"` + strings.Repeat("é", 201) + `","rooms":1}`, 400, "invalid_request"},
		{"name with NUL", "POST", good, `{"name":"a\u0000b","rooms":1}`, 400, "invalid_request"},
		{"name not a string", "POST", good, `{"name":7,"rooms":1}`, 400, "invalid_request"},
		{"body too large", "POST", good, `{"name":"` + strings.Repeat("a", 5000) + `","rooms":1}`, 413, "payload_too_large"},
		{"unknown event", "POST", fmt.Sprintf("/%d/%d/reserve/atomic", f.eventID+100, f.hotels[0].HotelID), `{"name":"a","rooms":1}`, 404, "not_found"},
		{"hotel of no such event", "GET", fmt.Sprintf("/%d/%d/available", f.eventID, f.hotels[1].HotelID+100), "", 404, "not_found"},
		{"unknown event availability", "GET", fmt.Sprintf("/%d/available", f.eventID+100), "", 404, "not_found"},
		{"no such endpoint", "GET", "/a/b/c/d/e", "", 404, "not_found"},
		{"wrong method", "DELETE", fmt.Sprintf("/%d/available", f.eventID), "", 405, "method_not_allowed"},
	}
	f.assertRefused(t, cases)
	if r := f.do(t, "POST", good, `{"rooms":1,"name":"a","rooms":2}`); !strings.Contains(errorMessage(t, r), `field "rooms" is given twice`) {
		t.Fatalf("duplicate_field does not name the field: %s", r.raw)
	}
	r := f.do(t, "POST", f.reservePath(0, "nope"), `{"name":"a","rooms":1}`)
	if msg := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "naive, pessimistic, atomic, optimistic") {
		t.Fatalf("unknown_mode message does not list the modes: %q", msg)
	}
}

func TestMaxRoomsIsConfigurable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{MaxRooms: 8})
	if r := f.do(t, "POST", f.reservePath(0, "pessimistic"), `{"name":"a","rooms":8}`); r.status != http.StatusCreated {
		t.Fatalf("8 rooms with --max-rooms 8: %d %s", r.status, r.raw)
	}
	if r := f.do(t, "POST", f.reservePath(0, "pessimistic"), `{"name":"a","rooms":9}`); r.status != http.StatusBadRequest {
		t.Fatalf("9 rooms with --max-rooms 8: %d %s", r.status, r.raw)
	}
}

// deadDatabaseFixture serves the API in front of a database address where
// nothing listens: every query fails to connect. (Port 1 is never handed
// out as a free port, so no server a parallel test starts can be there.)
func deadDatabaseFixture(t *testing.T) *fixture {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/evento?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	server := serve(t, pool, api.Options{QueryTimeout: 3 * time.Second})
	return &fixture{server: server, eventID: 1, hotels: []labdb.SeededHotel{{HotelID: 1}}}
}

// A database that does not answer is 503 unavailable, retryable, for reads,
// reservations and the health check alike.
func TestDatabaseDownIsUnavailable(t *testing.T) {
	t.Parallel()
	f := deadDatabaseFixture(t)
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/healthz", ""},
		{"GET", "/1/available", ""},
		{"GET", "/1/1/available", ""},
		{"POST", f.reservePath(0, "atomic"), `{"name":"a","rooms":1}`},
	} {
		r := f.do(t, req.method, req.path, req.body)
		if r.status != http.StatusServiceUnavailable || errorCode(t, r) != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Fatalf("%s %s with the database down: %d %s", req.method, req.path, r.status, r.raw)
		}
	}
}

// A server that does not serve a registered mode refuses it with 403
// mode_disabled before anything else, keyed or not, and changes nothing;
// an unregistered mode is still 400 unknown_mode, and an enabled one books.
func TestDisabledModeIsForbidden(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 10, api.Options{Modes: []string{"pessimistic", "atomic"}})
	good := `{"name":"a","rooms":1}`
	f.assertRefused(t, []refusal{
		{"naive", "POST", f.reservePath(0, "naive"), good, 403, "mode_disabled"},
		{"batched", "POST", f.reservePath(0, "batched"), good, 403, "mode_disabled"},
		{"naive with a bad body", "POST", f.reservePath(0, "naive"), `{"rooms":0}`, 403, "mode_disabled"},
		{"naive at an unknown event", "POST", fmt.Sprintf("/%d/%d/reserve/naive", f.eventID+100, f.hotels[0].HotelID), good, 403, "mode_disabled"},
		{"unregistered", "POST", f.reservePath(0, "yolo"), good, 400, "unknown_mode"},
	})
	before := f.dbState(t)
	r := f.send(t, "POST", f.reservePath(0, "naive"), good, http.Header{"Idempotency-Key": {"k-naive"}})
	if r.status != http.StatusForbidden || errorCode(t, r) != "mode_disabled" {
		t.Fatalf("keyed naive: %d %s", r.status, r.raw)
	}
	if msg := r.body["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "naive") || !strings.Contains(msg, "pessimistic, atomic") {
		t.Fatalf("mode_disabled message must name the mode and the enabled modes: %q", msg)
	}
	var keys int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM idempotency_keys`).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if after := f.dbState(t); after != before || keys != 0 {
		t.Fatalf("a refused mode changed the database: %s -> %s, %d keys", before, after, keys)
	}
	if r := f.do(t, "POST", f.reservePath(0, "atomic"), good); r.status != http.StatusCreated {
		t.Fatalf("enabled mode: %d %s", r.status, r.raw)
	}
}
