package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// evento clients add prints a new key once and keeps only its hash; list
// shows the client without the key; revoke stops it and gives its held
// rooms back at once; a second add under the same name is refused in one
// line.
func TestClientsAddListRevoke(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	added := runEvento(t, bundle.env, "clients", "add", "alice", "--max-held-rooms", "4", "--json")
	var out struct {
		Client string `json:"client"`
		APIKey string `json:"api_key"`
	}
	if added.exit != 0 || json.Unmarshal([]byte(added.stdout), &out) != nil || out.Client != "alice" || !strings.HasPrefix(out.APIKey, "evk_") || len(out.APIKey) < 40 {
		t.Fatalf("add: exit %d, %q, %q", added.exit, added.stdout, added.stderr)
	}
	if again := runEvento(t, bundle.env, "clients", "add", "alice"); again.exit != 2 || !strings.Contains(again.stderr, `"alice" exists`) {
		t.Fatalf("second add: exit %d, %q", again.exit, again.stderr)
	}
	listed := runEvento(t, bundle.env, "clients", "list", "--json")
	if listed.exit != 0 || !strings.Contains(listed.stdout, `"client":"alice"`) || !strings.Contains(listed.stdout, `"max_held_rooms":4`) ||
		strings.Contains(listed.stdout, out.APIKey) || strings.Contains(listed.stdout, "revoked_at") {
		t.Fatalf("list: exit %d, %q", listed.exit, listed.stdout)
	}
	stored := queryString(t, bundle.url, `SELECT encode(key_hash, 'hex') FROM api_clients WHERE name = 'alice'`)
	if len(stored) != 64 || strings.Contains(stored, out.APIKey) {
		t.Fatalf("stored %q: want a sha256 hash, not the key", stored)
	}
	event := seedEvent(t, bundle, "1", "10")
	hotel := event.Hotels[0].HotelID
	scanRow(t, bundle.url, `WITH ehr AS (UPDATE event_hotel_rooms SET locked = 3 WHERE event_id = $1 AND hotel_id = $2 RETURNING id)
		INSERT INTO holds (event_hotel_rooms_id, name, rooms, expires_at, client_id, handle)
		SELECT ehr.id, 'alice', 3, now() + interval '15 minutes', (SELECT id FROM api_clients WHERE name = 'alice'), 'hold_AAAAAAAAAAAAAAAAAAAAAA'
		  FROM ehr RETURNING rooms`, []any{event.EventID, hotel}, new(int32))
	if r := runEvento(t, bundle.env, "clients", "revoke", "alice"); r.exit != 0 || !strings.Contains(r.stdout, "3 rooms back") {
		t.Fatalf("revoke: exit %d %q %q", r.exit, r.stdout, r.stderr)
	}
	var locked, held int32
	scanRow(t, bundle.url, `SELECT locked, (SELECT count(*) FROM holds WHERE state = 'held')::int FROM event_hotel_rooms WHERE hotel_id = $1`, []any{hotel}, &locked, &held)
	if locked != 0 || held != 0 {
		t.Fatalf("after the revoke: %d rooms locked in %d live holds; want alice's hold released", locked, held)
	}
	if r := runEvento(t, bundle.env, "clients", "revoke", "alice"); r.exit != 2 || !strings.Contains(r.stderr, "no live client") {
		t.Fatalf("second revoke: exit %d %q", r.exit, r.stderr)
	}
	if listed := runEvento(t, bundle.env, "clients", "list", "--json"); !strings.Contains(listed.stdout, "revoked_at") {
		t.Fatalf("list after revoke: %q", listed.stdout)
	}
}

// queryString reads one text value from the database at url.
func queryString(t *testing.T, url, sql string) string {
	t.Helper()
	var s string
	scanRow(t, url, sql, nil, &s)
	return s
}

// scanRow reads one row of sql with args from the database at url into dest.
func scanRow(t *testing.T, url, sql string, args []any, dest ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		t.Fatal(err)
	}
}
