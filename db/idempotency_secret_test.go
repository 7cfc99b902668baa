package db

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// When waiting for a key's first request fails (here: the database is
// gone), the error, which the server logs, names the key by its hash only.
func TestKeyWaitErrorNamesTheKeyByHashOnly(t *testing.T) {
	t.Parallel()
	// Nothing listens on port 1, which is never handed out as a free port.
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/evento?connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	const key = "k-secret-capability-42"
	err = awaitKey(context.Background(), dbsqlc.New(), pool, key, time.Second)
	if err == nil {
		t.Fatal("awaitKey with the database gone succeeded")
	}
	if strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), evento.ShortHash(key)) {
		t.Fatalf("error must name the key by its hash %s only: %v", evento.ShortHash(key), err)
	}
	if s := (evento.IdempotencyKey{Key: key}).String(); strings.Contains(s, key) {
		t.Fatalf("IdempotencyKey.String() = %q shows the key", s)
	}
}
