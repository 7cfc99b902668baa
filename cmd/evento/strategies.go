package main

import (
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
