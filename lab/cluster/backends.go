package cluster

import (
	"context"
	"sync"
	"time"
)

// BackendPeak is the most PostgreSQL client backends on the lab's
// database seen at once while WatchBackends sampled. Only that database's:
// a shared server's other users are not the lab's to count, and the
// servers, PgBouncer and the lab all connect to it alone.
type BackendPeak struct {
	Total int // every client backend, the sampling one included
	// Lab are the lab's own direct sessions (LabApplicationName), at most
	// LabPoolConns; Others the rest: the servers' sessions, or PgBouncer's.
	// Each is its own maximum, so Lab+Others may exceed Total.
	Lab, Others int
	Samples     int
}

// WatchBackends counts PostgreSQL's client backends every interval, over
// the lab's direct pool, until stop is called; stop returns the peaks. A
// sample that fails (a database fault) is skipped: the peak is of those
// that answered.
func (c *Cluster) WatchBackends(ctx context.Context, interval time.Duration) (stop func() BackendPeak) {
	ctx, cancel := context.WithCancel(ctx)
	var peak BackendPeak
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			var total, lab int
			err := c.Pool.QueryRow(ctx, `
				SELECT count(*), count(*) FILTER (WHERE application_name = $1)
				  FROM pg_stat_activity
				 WHERE backend_type = 'client backend' AND datname = current_database()`, LabApplicationName).Scan(&total, &lab)
			if err == nil {
				peak.Samples++
				peak.Total = max(peak.Total, total)
				peak.Lab = max(peak.Lab, lab)
				peak.Others = max(peak.Others, total-lab)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	})
	return func() BackendPeak {
		cancel()
		wg.Wait()
		return peak
	}
}
