package api_test

import (
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// readOpenAPI decodes api/openapi.yaml into doc and returns its text.
func readOpenAPI(t *testing.T, doc any) []byte {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err == nil {
		err = yaml.Unmarshal(raw, doc)
	}
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Every operation api/openapi.yaml documents is served: the document
// cannot drift from the server unnoticed (its error codes:
// TestOpenAPIDocumentsEveryErrorCode).
func TestOpenAPIMatchesTheServer(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	readOpenAPI(t, &doc)
	f := newFixture(t, 10, api.Options{})
	operations := 0
	for path, methods := range doc.Paths {
		concrete := strings.NewReplacer("{event_id}", "1", "{hotel_id}", "1", "{hold_id}", "hold_AAAAAAAAAAAAAAAAAAAAAA", "{mode}", "atomic").Replace(path)
		for method := range methods {
			r := f.do(t, strings.ToUpper(method), concrete, "")
			if r.status == http.StatusMethodNotAllowed || (r.status == http.StatusNotFound && strings.Contains(r.raw, "no such endpoint")) {
				t.Errorf("%s %s is documented but not served: %d %s", strings.ToUpper(method), path, r.status, r.raw)
			}
			operations++
		}
	}
	if operations < 8 {
		t.Fatalf("only %d operations documented", operations)
	}
}

// api/openapi.yaml's error codes are exactly the domain's (evento.Errors),
// and docs/api.md's table of errors gives each its status: neither document
// can drift from the one list of codes unnoticed.
func TestOpenAPIDocumentsEveryErrorCode(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Properties struct {
								Code struct {
									Enum []string `yaml:"enum"`
								} `yaml:"code"`
							} `yaml:"properties"`
						} `yaml:"error"`
					} `yaml:"properties"`
				} `yaml:"Error"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	readOpenAPI(t, &doc)
	documented := map[string]bool{}
	for _, code := range doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum {
		documented[code] = true
		if evento.ErrorWithCode(code) == nil {
			t.Errorf("openapi.yaml documents error code %q, which evento.Errors does not have", code)
		}
	}
	guide, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	// A row of the guide's table: "| 409 | `hold_expired` / `hold_released` | when |".
	rows := regexp.MustCompile("(?m)^\\| (\\d{3}) \\| (`[a-z_]+`(?: / `[a-z_]+`)*) \\|")
	statuses := map[string]string{}
	for _, row := range rows.FindAllStringSubmatch(string(guide), -1) {
		for _, code := range strings.Split(row[2], " / ") {
			statuses[strings.Trim(code, "`")] = row[1]
		}
	}
	for _, e := range evento.Errors() {
		if !documented[e.Code] {
			t.Errorf("error code %q is not in openapi.yaml", e.Code)
		}
		if got, want := statuses[e.Code], strconv.Itoa(e.Status); got != want {
			t.Errorf("docs/api.md's table gives error code %q status %q; evento.Errors %s", e.Code, got, want)
		}
	}
}

// The mode parameter lists exactly the modes a server can serve, in the
// registry's order, and reserve documents the 403 of a disabled one.
func TestOpenAPIModesAreTheRegistry(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]struct {
			Post struct {
				Parameters []struct {
					Name   string `yaml:"name"`
					Schema struct {
						Enum []string `yaml:"enum"`
					} `yaml:"schema"`
				} `yaml:"parameters"`
				Responses map[string]any `yaml:"responses"`
			} `yaml:"post"`
		} `yaml:"paths"`
	}
	raw := readOpenAPI(t, &doc)
	reserve := doc.Paths["/{event_id}/{hotel_id}/reserve/{mode}"].Post
	var documented []string
	for _, p := range reserve.Parameters {
		if p.Name == "mode" {
			documented = p.Schema.Enum
		}
	}
	gap := func(strategies []db.Strategy) string {
		served := db.NewStore(dbtest.NewPool(t, 1), db.Options{Strategies: strategies}).Strategies()
		if slices.Equal(documented, served) {
			return ""
		}
		return fmt.Sprintf("openapi.yaml's modes %v; the server's %v", documented, served)
	}
	if msg := gap(db.Strategies); msg != "" {
		t.Error(msg)
	}
	// A strategy added to the registry is named here until the document
	// lists it.
	ninth := db.Strategy{Name: "conditional", Book: db.Strategies[0].Book}
	if msg := gap(append(slices.Clip(db.Strategies), ninth)); !strings.Contains(msg, ninth.Name) {
		t.Errorf("a ninth strategy went unnoticed: %q", msg)
	}
	if _, ok := reserve.Responses["403"]; !ok || !strings.Contains(string(raw), "`mode_disabled`") {
		t.Errorf("reserve does not document 403 mode_disabled")
	}
}
