package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// The cap on rooms one client holds at once is a check, then an insert,
// across hotels and servers: a write skew waiting to happen. Driven step
// by step: s1, a first server, takes the client's lock, counts, and holds
// 3 rooms (the cap) at one hotel without committing. The store, a second
// server, holding 1 more room for the same client at another hotel must
// queue on that lock, as PostgreSQL reports, and once s1 commits, count
// s1's hold and refuse. Without the lock it counts 0 and both pass: 4
// rooms held under a cap of 3.
func TestHoldCapQueuesOnTheClientsLock(t *testing.T) {
	t.Parallel()
	store, bundle := setup(t, 6, 10)
	pool, first, ctx := bundle.pool, bundle.hotel, bundle.ctx
	second := seedHotel(t, pool, 10)
	who, _, err := db.CreateClient(ctx, pool, "alice", 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	client := pgtype.Int8{Int64: int64(who.ID), Valid: true}

	s1 := begin(t, pool)
	s1.runQueries(func(ctx context.Context, tx dbsqlc.DBTX) error {
		if _, err := queries.LockClientHolds(ctx, tx, client); err != nil {
			return err
		}
		_, err := queries.PlaceHold(ctx, tx, dbsqlc.PlaceHoldParams{
			EventID: first.EventID, HotelID: first.HotelID, Name: "alice", Rooms: 3, TtlSeconds: 60,
			ClientID: client, Handle: "hold_AAAAAAAAAAAAAAAAAAAAAA",
		})
		return err
	})
	s1.succeeds("s1")

	refused := make(chan error, 1)
	go func() {
		req := second.request("alice", 1)
		req.Client = who.ID
		_, err := placeHold(ctx, store, evento.HoldRequest{BookRequest: req, TTL: time.Minute, MaxHeldRooms: 3})
		refused <- err
	}()
	// The store's session, queued behind s1 on the client's lock.
	waitFor(t, pool, 1, "the second hold never waited for the client's lock", `SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND pid <> $1`, int32(s1.pid))
	s1.commit()
	var limit *evento.HoldLimitError
	err = receive(t, refused, "the second hold never finished")
	if !errors.As(err, &limit) || limit.Held != 3 || limit.Limit != 3 {
		t.Fatalf("the second hold: %v; want hold_limit with 3 held of 3", err)
	}
	held := queryInt(t, pool, `SELECT coalesce(sum(rooms), 0)::int FROM holds WHERE client_id = $1 AND state = 'held'`, int64(who.ID))
	if held != 3 {
		t.Fatalf("alice holds %d rooms under a cap of 3", held)
	}
}
