package labdb_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/db/localpg"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The pgbench scripts generated from atomic.sql really book: pgbench runs
// each 20 times and the hotel has 20 rooms booked, counter and rows alike,
// as EventRecords reads them back in one snapshot. The keyed one also
// stores each booking under a key of its own.
func TestAtomicPgbenchScriptBooks(t *testing.T) {
	t.Parallel()
	binDir, err := localpg.FindBinDir()
	if err != nil {
		t.Skip(err)
	}
	for _, keyed := range []bool{false, true} {
		t.Run(fmt.Sprintf("keyed=%v", keyed), func(t *testing.T) {
			t.Parallel()
			url := dbtest.NewURL(t)
			pool, err := db.OpenPool(t.Context(), url, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			event, err := labdb.Seed(t.Context(), pool, labdb.SeedSpec{Name: "pgbench", Hotels: 1, Rooms: 100})
			if err != nil {
				t.Fatal(err)
			}
			hotel := event.Hotels[0]
			script := labdb.AtomicBookPgbenchScript
			if keyed {
				script = labdb.AtomicBookKeyedPgbenchScript
			}
			text, err := script()
			if err != nil {
				t.Fatal(err)
			}
			// Every named parameter became a pgbench variable: none is left for
			// sqlc's positional numbering to decide.
			if strings.ContainsAny(text, "$@") || !strings.Contains(text, ":name") || !strings.Contains(text, ":hotel_id") {
				t.Fatalf("script still has sqlc parameters:\n%s", text)
			}
			path := filepath.Join(t.TempDir(), "atomic.pgbench")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.CommandContext(t.Context(), filepath.Join(binDir, "pgbench"), "-n", "-M", "prepared",
				"-c", "2", "-t", "10", "-f", path, "-D", "name=pgbench", "-D", "fingerprint=pgbench",
				"-D", fmt.Sprintf("event_id=%d", event.EventID), "-D", fmt.Sprintf("hotel_id=%d", hotel.HotelID), url,
			).CombinedOutput()
			if err != nil {
				t.Fatalf("pgbench: %v\n%s", err, out)
			}
			records, err := labdb.EventRecords(t.Context(), pool, []int64{event.EventID})
			if err != nil {
				t.Fatal(err)
			}
			if r := records[0]; r.Booked != 20 || r.Reserved != 20 || len(r.Reservations) != 20 {
				t.Fatalf("after 2x10 pgbench transactions: %+v", r)
			}
			var keys int
			if err := pool.QueryRow(t.Context(), `
				SELECT count(*) FROM reservations WHERE idempotency_key IS NOT NULL`,
			).Scan(&keys); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 0, true: 20}[keyed]; keys != want {
				t.Fatalf("%d keys stored with their reservation, want %d", keys, want)
			}
		})
	}
}
