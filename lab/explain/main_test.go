package explain

import (
	"context"
	"testing"
	"time"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newTarget is a fresh, migrated database of the test's own.
func newTarget(t *testing.T) Target {
	t.Helper()
	url := dbtest.NewURL(t)
	pool, err := db.OpenPool(testContext(t), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return Target{Pool: pool, URL: url}
}
