package localpg

import (
	"encoding/json"
	"testing"
)

// Each durability mode is the Patroni settings docs/failover.md names:
// what a commit waits for, and whether Patroni may stop waiting.
func TestHAConfigDurability(t *testing.T) {
	t.Parallel()
	want := map[string]struct {
		syncMode, strict bool
		commit           string
	}{
		Async:       {false, false, "on"},
		RemoteWrite: {true, false, "remote_write"},
		Sync:        {true, false, "on"},
		Strict:      {true, true, "on"},
	}
	if len(want) != len(Durabilities) {
		t.Fatalf("Durabilities %v; the test knows %d modes", Durabilities, len(want))
	}
	for _, mode := range Durabilities {
		h := &HA{opts: HAOptions{Durability: mode}, apiAuth: "u:p"}
		raw, err := h.patroniConfig(&haMember{name: "pg1", dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Bootstrap struct {
				DCS struct {
					SynchronousMode       bool `json:"synchronous_mode"`
					SynchronousModeStrict bool `json:"synchronous_mode_strict"`
					PostgreSQL            struct {
						Parameters map[string]any `json:"parameters"`
					} `json:"postgresql"`
				} `json:"dcs"`
			} `json:"bootstrap"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		dcs, w := cfg.Bootstrap.DCS, want[mode]
		if dcs.SynchronousMode != w.syncMode || dcs.SynchronousModeStrict != w.strict || dcs.PostgreSQL.Parameters["synchronous_commit"] != w.commit {
			t.Errorf("%s: synchronous_mode %v, strict %v, synchronous_commit %v; want %v, %v, %s",
				mode, dcs.SynchronousMode, dcs.SynchronousModeStrict, dcs.PostgreSQL.Parameters["synchronous_commit"], w.syncMode, w.strict, w.commit)
		}
	}
}
