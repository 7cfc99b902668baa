package report

import (
	"time"

	"github.com/evento-lab/evento/lab/client"
)

// bookingsPerSecond counts, for each second of the run, the bookings the
// clients were told succeeded in it (reserves and confirmed holds, by the
// time their answer came): the throughput curve that shows what a fault
// cost and how soon the run recovered.
func bookingsPerSecond(started time.Time, attempts []client.Attempt) []int {
	var perSecond []int
	for _, a := range attempts {
		if a.Class != client.ClassOK || (a.Op != "reserve" && a.Op != "confirm") {
			continue
		}
		second := int(a.Completed.Sub(started) / time.Second)
		if second < 0 {
			continue
		}
		for len(perSecond) <= second {
			perSecond = append(perSecond, 0)
		}
		perSecond[second]++
	}
	return perSecond
}
