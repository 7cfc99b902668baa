package client

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// Route is how the clients spread their requests over the servers: what
// the load balancer in front of them would do.
type Route string

const (
	// RoundRobin sends each request to the next server in turn, so every
	// hotel is booked through every server: the races between servers
	// that the unsafe strategies lose show.
	RoundRobin Route = "round-robin"
	// ByHotel sends all of a hotel's requests to one server, picked by a
	// hash of the hotel's path (/{event_id}/{hotel_id}), as a balancer
	// hashing the URL would. batched's group commit then has one batch
	// per hotel instead of one per server taking turns on the hotel's row.
	ByHotel Route = "hotel"
)

// Routes lists the routes, the default first.
var Routes = []Route{RoundRobin, ByHotel}

// ParseRoute reads a route's name; "" is RoundRobin.
func ParseRoute(s string) (Route, error) {
	if s == "" {
		return RoundRobin, nil
	}
	for _, r := range Routes {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown route %q (routes: %s)", s, RouteNames())
}

// RouteNames lists the routes' names, for help and errors.
func RouteNames() string {
	names := make([]string, len(Routes))
	for i, r := range Routes {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// hotelHash is a balancer's hash of the hotel a request is about: the
// path's first two segments, /{event_id}/{hotel_id}.
func hotelHash(path string) uint64 {
	rest := strings.TrimPrefix(path, "/")
	end := len(rest)
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		if j := strings.IndexByte(rest[i+1:], '/'); j >= 0 {
			end = i + 1 + j
		}
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(rest[:end]))
	// FNV's low bits depend on the bytes' low bits alone (with 2 servers,
	// on how many odd characters the path has): fold the high bits in.
	sum := h.Sum64()
	return sum ^ sum>>32
}
