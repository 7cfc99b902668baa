package lab

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/lab/checker"
)

// observeDatabase reads what the system of record holds for the events,
// counters and reservation rows in one snapshot, as the checker judges it.
// It is the checker's observe step through the database; it lives here so
// that lab/checker and lab/report stay free of the database driver.
func observeDatabase(pool *pgxpool.Pool, eventIDs []int64) checker.Observer {
	return func(ctx context.Context) ([]checker.Observed, error) {
		records, err := eventRecordsOnceUp(ctx, pool, eventIDs)
		if err != nil {
			return nil, err
		}
		observed := make([]checker.Observed, len(records))
		for i, r := range records {
			observed[i] = checker.Observed{
				EventID: r.EventID, HotelID: r.HotelID,
				Assigned: r.Assigned, Reserved: r.Reserved, Locked: r.Locked,
				Booked: r.Booked, Rows: r.Reservations,
				LiveHeldRooms: r.LiveHeldRooms, Holds: checker.HoldCounts(r.Holds),
			}
		}
		return observed, nil
	}
}

// eventRecordsOnceUp reads the records, retrying until ctx ends: after a
// fault PostgreSQL may still be recovering ("the database system is
// starting up") or the pool's connections dead, and the clients' ledger
// must not be lost for want of one read.
func eventRecordsOnceUp(ctx context.Context, pool *pgxpool.Pool, eventIDs []int64) ([]labdb.HotelRecord, error) {
	pause := 50 * time.Millisecond
	for {
		records, err := labdb.EventRecords(ctx, pool, eventIDs)
		if err == nil {
			return records, nil
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("%w (still failing when the final read's deadline passed)", err)
		case <-timer.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}
