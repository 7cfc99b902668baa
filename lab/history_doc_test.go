package lab

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/client"
)

// The history lines docs/faults.md shows (its "…" standing for fields or
// values left out) name only fields the history's lines have: a field
// renamed in the code fails here, naming the doc's line.
func TestHistoryLinesOfTheDocs(t *testing.T) {
	raw, err := os.ReadFile("../docs/faults.md")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]map[string]bool{
		"run":     jsonFields(reflect.TypeFor[runLine]()),
		"attempt": jsonFields(reflect.TypeFor[client.Attempt]()),
		"fault":   jsonFields(reflect.TypeFor[faultLine]()),
		"end":     jsonFields(reflect.TypeFor[endLine]()),
	}
	elided := strings.NewReplacer(",…,", ",", ",…}", "}", "{…,", "{")
	checked := 0
	for i, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, `{"type":`) {
			continue
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(elided.Replace(line)), &got); err != nil {
			t.Errorf("docs/faults.md:%d: not a JSON line: %v", i+1, err)
			continue
		}
		typ, _ := got["type"].(string)
		known, ok := fields[typ]
		if !ok {
			t.Errorf("docs/faults.md:%d: no history line has type %q", i+1, typ)
			continue
		}
		for name := range got {
			if !known[name] {
				t.Errorf("docs/faults.md:%d: a history line of type %s has no field %q", i+1, typ, name)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("docs/faults.md shows no history line")
	}
}

// jsonFields are the names a struct's JSON has, its embedded structs' too.
func jsonFields(typ reflect.Type) map[string]bool {
	names := map[string]bool{}
	for _, f := range reflect.VisibleFields(typ) {
		if f.Anonymous || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		if name != "-" {
			names[name] = true
		}
	}
	return names
}
