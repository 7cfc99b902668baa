package explain

import (
	"context"
	"testing"
	"time"

	"github.com/evento-lab/evento/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newTarget is a fresh, migrated database of the test's own.
func newTarget(t *testing.T) Target {
	pool := dbtest.NewPool(t, 2)
	return Target{Pool: pool, URL: pool.Config().ConnString()}
}
