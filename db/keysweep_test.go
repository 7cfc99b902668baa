package db_test

import (
	"strings"
	"testing"

	evqueries "github.com/evento-lab/evento/queries"

	"github.com/evento-lab/evento/db/dbtest"
)

// The sweeper runs every second on every server: with a day of live keys
// (none due), its statement must walk the expiry index to the first key
// not due, not read them all.
func TestKeySweepWalksTheExpiryIndex(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	ctx := testContext(t)
	if _, err := pool.Exec(ctx, `
		INSERT INTO idempotency_keys (key, fingerprint, reservation_id, expires_at)
		SELECT 'k-' || n, 'reserve', n, clock_timestamp() + interval '1 day'
		  FROM generate_series(1, 20000) AS n;
		ANALYZE idempotency_keys`); err != nil {
		t.Fatal(err)
	}
	stmt, ok := evqueries.Statement("idempotency.sql", "SweepIdempotencyKeys")
	if !ok {
		t.Fatal("no SweepIdempotencyKeys in queries/idempotency.sql")
	}
	rows, err := pool.Query(ctx, "EXPLAIN "+strings.ReplaceAll(stmt, "@batch_size::integer", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "Index Cond: (expires_at <=") {
		t.Fatalf("the sweep does not bound its scan by the expiry index:\n%s", plan.String())
	}
}
