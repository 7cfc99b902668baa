package main

import (
	"slices"
	"strings"

	"github.com/evento-lab/evento/db"
)

// parseStrategies reads "all" or a comma-separated list of strategy names,
// refusing any unknown one with the list of those that exist.
func parseStrategies(list string) ([]string, error) {
	if list == "all" {
		names := make([]string, len(db.Strategies))
		for i, s := range db.Strategies {
			names[i] = s.Name
		}
		return names, nil
	}
	var names []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if _, ok := db.LookupStrategy(name); !ok {
			return nil, usagef("unknown strategy %q; strategies: %s", name, db.StrategyNames())
		}
		names = append(names, name)
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

// parseModes reads serve's --modes: "all" (naive included) or a
// comma-separated list of strategy names.
func parseModes(list string) ([]string, error) {
	if list == "all" {
		return parseStrategies(list)
	}
	var names []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if _, ok := db.LookupStrategy(name); !ok {
			return nil, usagef("--modes: unknown mode %q; allowed: all, or a comma-separated list of %s", name, db.StrategyNames())
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, nil
}
