package db

import (
	"slices"
	"strings"
)

// Strategies lists every strategy, in the order reports show them. Each is
// declared in its own file, beside the Go that sequences its SQL.
var Strategies = []Strategy{naive, pessimistic, atomic, optimistic, serializable, advisory, sharded, batched}

// LookupStrategy finds a strategy by name.
func LookupStrategy(name string) (Strategy, bool) {
	i := slices.IndexFunc(Strategies, func(s Strategy) bool { return s.Name == name })
	if i < 0 {
		return Strategy{}, false
	}
	return Strategies[i], true
}

// StrategyNames lists the strategies' names, comma-separated, for messages.
func StrategyNames() string {
	return strings.Join(names(Strategies), ", ")
}

func names(strategies []Strategy) []string {
	out := make([]string, len(strategies))
	for i, s := range strategies {
		out[i] = s.Name
	}
	return out
}
