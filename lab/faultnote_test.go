package lab

import (
	"strings"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
)

// A load that asked for faults and sold out before the first one says so:
// it proved nothing about them, and a silent report read as if it had.
func TestARunThatMetNoFaultSaysSo(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 10)
	event, err := labdb.Seed(t.Context(), pool, labdb.SeedSpec{Name: "no faults", Hotels: 1, Rooms: 10})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load(t.Context(), LoadConfig{
		Servers: []string{serveEvento(t, pool).String()}, EventID: event.EventID, DatabaseURL: pool.Config().ConnString(),
		Clients: client.Config{Strategy: "atomic", Clients: 2, MaxRooms: 2, Seed: 1, Idempotency: true},
		Faults:  []string{nemesis.LoseReplies}, FaultEvery: time.Hour, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(r.Notes, "\n")
	if len(r.Faults) != 0 || !strings.Contains(notes, "no fault was injected") || !strings.Contains(notes, "--fault-every (1h0m0s)") {
		t.Fatalf("%d faults, notes:\n%s\nwant none injected, and a note saying so", len(r.Faults), notes)
	}
}
