package report

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
)

// A run on the replicated pair says so, and in which durability mode, in
// its header, its JSON and a comparison's machine line; a run on one
// server keeps the header it always had and says "single server" in JSON.
func TestReportNamesTheDatabase(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind, durability, header, machine string
	}{
		{ReplicatedPair, "strict", "database: replicated PostgreSQL pair, strict durability\n", "PostgreSQL 15.8 (replicated PostgreSQL pair, strict durability)"},
		{SingleServer, "", "", "PostgreSQL 15.8"},
	} {
		r := Build(Meta{Strategy: "atomic", Clients: 2, Servers: 1, DatabaseKind: c.kind, Durability: c.durability},
			client.Result{}, checker.Result{Verdict: checker.Consistent})
		var text strings.Builder
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(text.String(), "\n")
		if got := strings.Join(lines[1:2], ""); c.header != "" && got != c.header {
			t.Errorf("%s: second line %q, want %q", c.kind, got, c.header)
		}
		if c.header == "" && strings.Contains(text.String(), "database:") {
			t.Errorf("%s: the text names the database:\n%s", c.kind, text.String())
		}
		var js strings.Builder
		if err := r.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		var decoded struct {
			Kind       string `json:"database_kind"`
			Durability string `json:"durability"`
		}
		if err := json.Unmarshal([]byte(js.String()), &decoded); err != nil {
			t.Fatal(err)
		}
		if decoded.Kind != c.kind || decoded.Durability != c.durability {
			t.Errorf("JSON says %+v, want %s, %q", decoded, c.kind, c.durability)
		}
		m := Comparison{Machine: Machine{Commit: "abc", CPUs: 2, PostgreSQL: "15.8", DatabaseKind: c.kind, Durability: c.durability}}
		if line := m.machineLine(); !strings.Contains(line, c.machine) || c.header == "" && strings.Contains(line, "pair") {
			t.Errorf("%s: machine line %q; want %q in it", c.kind, line, c.machine)
		}
	}
}
