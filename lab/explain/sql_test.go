package explain

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// A parameter is bound as a literal, and a brace cannot end a spec's step.
func TestNamedBindsLiterals(t *testing.T) {
	stmt, err := named("RecordIdempotencyOutcomes", map[string]any{
		"keys": []string{"k"}, "fingerprints": []string{"f"}, "outcomes": []string{`{"a":"it's"}`}, "ttl_seconds": 60,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "INSERT INTO idempotency_keys (key, fingerprint, outcome, expires_at)\n" +
		"SELECT r.key, (ARRAY['f']::text[])[r.ord], (ARRAY[E'{\"a\":\"it''s\"\\x7d']::jsonb[])[r.ord],\n" +
		"       clock_timestamp() + make_interval(secs => 60::integer)\n" +
		"  FROM unnest(ARRAY['k']::text[]) WITH ORDINALITY AS r (key, ord);"
	if stmt.SQL != want || stmt.File != "queries/idempotency.sql" {
		t.Fatalf("got %s (%s)\nwant %s", stmt.SQL, stmt.File, want)
	}
	if _, err := named("AtomicBook", map[string]any{"rooms": 1}); err == nil {
		t.Fatal("a missing parameter bound")
	}
	if _, err := named("EventExists", map[string]any{"event_id": 1, "typo": 2}); err == nil {
		t.Fatal("an unknown parameter bound")
	}
}

// A statement as sqlc sends it (its "-- name:" line, $n numbered in sqlc's
// own order, not the text's) is written as named writes the same statement
// from queries/: sqlc's $2, $3, $4, $1, $5 are AtomicBook's @rooms,
// @event_id, @hotel_id, @name and client_id, paired in the order each
// first appears.
func TestSentIsWrittenAsNamed(t *testing.T) {
	q, err := lookup("AtomicBook")
	if err != nil {
		t.Fatal(err)
	}
	sqlc := "-- name: AtomicBook :one\n\n" + strings.NewReplacer(
		"@name", "$1", "@rooms", "$2", "@event_id", "$3", "@hotel_id", "$4", "sqlc.narg('client_id')", "$5").Replace(q.text)
	got, err := sent(sqlc, []any{"alice", int32(2), int64(1), int64(7), nil})
	if err != nil {
		t.Fatal(err)
	}
	want, err := named("AtomicBook", map[string]any{"name": "alice", "rooms": int32(2), "event_id": int64(1), "hotel_id": int64(7), "client_id": nil})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sent:\n%+v\nnamed:\n%+v", got, want)
	}
	if _, err := sent(sqlc, []any{"alice", int32(2), int64(1), int64(7)}); err == nil {
		t.Fatal("a statement bound with an argument missing")
	}
	if got, err := sent("SAVEPOINT sharded_pick", nil); err != nil || got.SQL != "SAVEPOINT sharded_pick;" || got.Name != "" {
		t.Fatalf("a savepoint: %+v, %v", got, err)
	}
	stamp := time.Date(2100, 1, 1, 0, 0, 0, 1000, time.UTC)
	if lit, err := literal(stamp); err != nil || lit != "'2100-01-01 00:00:00.000001+00'" {
		t.Fatalf("a timestamp read back: %s, %v; want it as PostgreSQL printed it", lit, err)
	}
}
