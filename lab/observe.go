package lab

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
)

// observeDatabase reads what the system of record holds for the events,
// counters and reservation rows in one snapshot, as the checker judges it.
// It is the checker's observe step through the database; it lives here so
// that lab/checker and lab/report stay free of the database driver.
func observeDatabase(pool *pgxpool.Pool, eventIDs []int64) checker.Observer {
	return observeRows(pool, eventIDs, nil)
}

// observeClient is observeDatabase for a run that books as one API client:
// each hotel's OthersBooked counts the rows of every other client.
func observeClient(pool *pgxpool.Pool, eventIDs []int64, own evento.ClientID) checker.Observer {
	return observeRows(pool, eventIDs, &own)
}

func observeRows(pool *pgxpool.Pool, eventIDs []int64, own *evento.ClientID) checker.Observer {
	return func(ctx context.Context) ([]checker.Observed, error) {
		// Retried until ctx ends: after a fault PostgreSQL may still be
		// recovering ("the database system is starting up") or the pool's
		// connections dead, and the clients' ledger must not be lost for
		// want of one read.
		records, err := labdb.EventRecords(ctx, pool, eventIDs)
		for pause := 50 * time.Millisecond; err != nil; pause = min(2*pause, 2*time.Second) {
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%w (still failing when the final read's deadline passed)", err)
			case <-time.After(pause):
			}
			records, err = labdb.EventRecords(ctx, pool, eventIDs)
		}
		observed := make([]checker.Observed, len(records))
		for i, r := range records {
			observed[i] = checker.Observed{
				EventID: r.EventID, HotelID: r.HotelID,
				Assigned: r.Assigned, Reserved: r.Reserved, Locked: r.Locked,
				Booked: r.Booked, Rows: r.Reservations,
				LiveHeldRooms: r.LiveHeldRooms, Holds: checker.HoldCounts(r.Holds),
			}
			for id, owner := range r.Owners {
				if own != nil && owner != *own {
					observed[i].OthersBooked += r.Reservations[id]
				}
			}
		}
		return observed, nil
	}
}

// addKeyedReservations reads the reservation stored under each of keys,
// and gives each hotel those of its ledger's keys: what makes the
// checker's per-request check possible. It returns what it read.
func addKeyedReservations(ctx context.Context, pool *pgxpool.Pool, keys []string, res client.Result, observed []checker.Observed) (map[string]int64, error) {
	stored := map[string]int64{}
	if len(keys) > 0 {
		var err error
		if stored, err = labdb.KeyedReservations(ctx, pool, keys); err != nil {
			return nil, err
		}
	}
	for i := range observed {
		observed[i].KeyedReservations = map[string]int64{}
		for _, t := range res.Targets {
			if t.EventID != observed[i].EventID || t.HotelID != observed[i].HotelID {
				continue
			}
			for key := range t.Keyed {
				if id, ok := stored[key]; ok {
					observed[i].KeyedReservations[key] = id
				}
			}
		}
	}
	return stored, nil
}

// ledgerKeys are the idempotency keys of the ledger's answers.
func ledgerKeys(res client.Result) []string {
	var keys []string
	for _, t := range res.Targets {
		keys = slices.AppendSeq(keys, maps.Keys(t.Keyed))
	}
	return keys
}
