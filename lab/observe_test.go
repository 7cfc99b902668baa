package lab

import (
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/faultproxy"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The final read outlasts a database that is down when the clients stop
// (a crash's recovery, a restart): it retries until the database answers,
// instead of losing the run's ledger with exit 2.
func TestFinalReadWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	direct := dbtest.NewPool(t, 2)
	event, err := labdb.Seed(t.Context(), direct, labdb.SeedSpec{Name: "final read", Hotels: 1, Rooms: 3})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(direct.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	down, err := faultproxy.Start(target)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = down.Addr()
	_ = down.Close() // the database's address now refuses connections
	pool, err := pgxpool.New(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	go func() {
		time.Sleep(500 * time.Millisecond)
		back, err := faultproxy.StartAt(u.Host, target)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { _ = back.Close() })
	}()
	started := time.Now()
	observed, err := observeDatabase(pool, []int64{event.EventID})(t.Context())
	if err != nil {
		t.Fatalf("final read: %v", err)
	}
	if len(observed) != 1 || observed[0].Assigned != 3 {
		t.Fatalf("observed %+v", observed)
	}
	if time.Since(started) < 500*time.Millisecond {
		t.Fatal("the read succeeded while the database was down: the test proved nothing")
	}
}
