package explain

import "testing"

// The layout isolationtester printed on PostgreSQL 15 for these values
// (numbers right-aligned, text and timestamps left, NULL and ” blank).
func TestPQPrintLikeIsolationtester(t *testing.T) {
	s := func(v string) *string { return &v }
	got := pqPrint([]string{"id", "name", "ts", "b", "n"}, [][]*string{
		{s("1"), s("a"), s("2100-01-01 00:00:00+00"), s("t"), s("1.5")},
		{s("22222"), s("longer name"), s("2100-01-01 00:00:00.000001+00"), s("f"), nil},
	})
	want := "   id|name       |ts                           |b|  n\n" +
		"-----+-----------+-----------------------------+-+---\n" +
		"    1|a          |2100-01-01 00:00:00+00       |t|1.5\n" +
		"22222|longer name|2100-01-01 00:00:00.000001+00|f|   \n" +
		"(2 rows)\n\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got, want := pqPrint([]string{"key", "owned"}, nil), "key|owned\n---+-----\n(0 rows)\n\n"; got != want {
		t.Fatalf("empty result: got %q, want %q", got, want)
	}
}

// A parameter is bound as a literal, and a brace cannot end a spec's step.
func TestNamedBindsLiterals(t *testing.T) {
	stmt, err := named("StoreIdempotencyOutcomes", map[string]any{"keys": []string{"k"}, "outcomes": []string{`{"a":"it's"}`}})
	if err != nil {
		t.Fatal(err)
	}
	want := "UPDATE idempotency_keys\n   SET outcome = (ARRAY[E'{\"a\":\"it''s\"\\x7d']::jsonb[])[array_position(ARRAY['k']::text[], key)]\n WHERE key = ANY (ARRAY['k']::text[]);"
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
