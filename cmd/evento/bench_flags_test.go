package main

import (
	"slices"
	"testing"
)

// --strategies takes names, NAME+keys and "all", which stands for every
// strategy; it used to index past its own list and panic.
func TestParseBenchStrategies(t *testing.T) {
	t.Parallel()
	got, err := parseBenchStrategies("atomic+keys,batched", false)
	if err != nil || !slices.Equal(got, []string{"atomic+keys", "batched"}) {
		t.Fatalf("atomic+keys,batched: %v %v", got, err)
	}
	all, err := parseBenchStrategies("all", true)
	if err != nil || len(all) != 2*len(parseAllForTest(t)) || all[1] != all[0]+"+keys" {
		t.Fatalf("all with --keys: %v %v", all, err)
	}
	if _, err := parseBenchStrategies("yolo", false); err == nil {
		t.Fatal("an unknown strategy was accepted")
	}
}

func parseAllForTest(t *testing.T) []string {
	t.Helper()
	modes, err := parseStrategies("all")
	if err != nil {
		t.Fatal(err)
	}
	return modes
}
