package main

import (
	"slices"
	"strings"

	"github.com/evento-lab/evento/db"
)

// parseStrategies reads "all" or a comma-separated list of strategy names,
// refusing any unknown one with the list of those that exist.
func parseStrategies(list string) ([]string, error) {
	return parseNames(list, func(name string) error {
		return usagef("unknown strategy %q; strategies: %s", name, db.StrategyNames())
	})
}

// parseNames reads "all" (naive included) or a comma-separated list of
// strategy names, each kept once; unknown words the error for a name.
func parseNames(list string, unknown func(name string) error) ([]string, error) {
	if list == "all" {
		list = db.StrategyNames()
	}
	var names []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if _, ok := db.LookupStrategy(name); !ok {
			return nil, unknown(name)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// safeModes are the strategies that never overbook: what a server serves
// unless told otherwise. naive overbooks on purpose; a server open to any
// client must not let every client choose it.
func safeModes() string {
	var names []string
	for _, s := range db.Strategies {
		if s.Safe {
			names = append(names, s.Name)
		}
	}
	return strings.Join(names, ",")
}

// refuseHoldsInBuckets refuses --holds with a strategy that books buckets:
// a hold takes rooms from its hotel's row, and that strategy's hotels have
// theirs in buckets (every hold would be refused inventory_sharded).
func refuseHoldsInBuckets(strategies []string, holds float64) error {
	if _, left := withoutBuckets(strategies); holds != 0 && len(left) > 0 {
		return usagef("--holds %g: %s splits each hotel's rooms into buckets, which holds cannot take; run it with --holds 0", holds, left[0])
	}
	return nil
}

// withoutBuckets leaves out the strategies that book buckets, for "all"
// with --holds; it says which it left out.
func withoutBuckets(strategies []string) (kept, left []string) {
	for _, name := range strategies {
		if s, _ := db.LookupStrategy(name); !s.TakesHolds() {
			left = append(left, name)
			continue
		}
		kept = append(kept, name)
	}
	return kept, left
}
