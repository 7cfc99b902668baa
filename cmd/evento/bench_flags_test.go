package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/evento-lab/evento/db"
)

// --strategies takes names, NAME+keys and "all", which stands for every
// strategy; it used to index past its own list and panic.
func TestParseBenchStrategies(t *testing.T) {
	t.Parallel()
	got, err := parseBenchStrategies("atomic+keys,batched", false, []int{8})
	if err != nil || !slices.Equal(got, []string{"atomic+keys", "batched"}) {
		t.Fatalf("atomic+keys,batched: %v %v", got, err)
	}
	all, err := parseBenchStrategies("all", true, []int{8})
	if err != nil || len(all) != 2*len(db.Strategies) || all[1] != all[0]+"+keys" {
		t.Fatalf("all with --keys: %v %v", all, err)
	}
	if once, err := parseStrategies("atomic, atomic,naive"); err != nil || !slices.Equal(once, []string{"atomic", "naive"}) {
		t.Fatalf("a name given twice: %v %v; want it once", once, err)
	}
	if _, err := parseBenchStrategies("yolo", false, []int{8}); err == nil {
		t.Fatal("an unknown strategy was accepted")
	}
	// A strategy that books buckets is measured once per bucket count.
	sharded, err := parseBenchStrategies("sharded,atomic", true, []int{1, 16})
	want := []string{"sharded/1", "sharded/1+keys", "sharded/16", "sharded/16+keys", "atomic", "atomic+keys"}
	if err != nil || !slices.Equal(sharded, want) {
		t.Fatalf("sharded,atomic with --buckets 1,16 --keys: %v %v; want %v", sharded, err, want)
	}
	// NAME@hotel routes the clients by hotel; it goes before +keys, and
	// round-robin, the default, is not written.
	routed, err := parseBenchStrategies("batched@hotel+keys,sharded@hotel", false, []int{4})
	if want := []string{"batched@hotel+keys", "sharded/4@hotel"}; err != nil || !slices.Equal(routed, want) {
		t.Fatalf("batched@hotel+keys,sharded@hotel: %v %v; want %v", routed, err, want)
	}
	allRouted, err := parseBenchStrategies("all@hotel", true, []int{8})
	if err != nil || len(allRouted) != 2*len(db.Strategies) || allRouted[0] != db.Strategies[0].Name+"@hotel" || allRouted[1] != allRouted[0]+"+keys" {
		t.Fatalf("all@hotel with --keys: %v %v", allRouted, err)
	}
	if _, err := parseBenchStrategies("atomic+keys@hotel", false, []int{8}); err == nil || !strings.Contains(err.Error(), "atomic@hotel+keys") {
		t.Errorf("atomic+keys@hotel: err = %v, want one that writes it atomic@hotel+keys", err)
	}
	for _, bad := range []string{"batched@", "batched@round-robin", "batched@x"} {
		if _, err := parseBenchStrategies(bad, false, []int{8}); err == nil || !strings.Contains(err.Error(), "hotel") {
			t.Errorf("%q: err = %v, want one naming the routes", bad, err)
		}
	}
	for _, bad := range []string{"0", "x", "1,", "1001"} {
		if _, err := parseBuckets(bad); err == nil || !strings.Contains(err.Error(), "--buckets") {
			t.Errorf("--buckets %q: err = %v, want one naming --buckets", bad, err)
		}
	}
}
