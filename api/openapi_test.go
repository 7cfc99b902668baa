package api_test

import (
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
)

// Every operation api/openapi.yaml documents is served, and every error
// code the server can answer is in its enum: the document cannot drift
// from the code unnoticed.
func TestOpenAPIMatchesTheServer(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]any `yaml:"paths"`
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
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
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
	documented := map[string]bool{}
	for _, code := range doc.Components.Schemas.Error.Properties.Error.Properties.Code.Enum {
		documented[code] = true
	}
	for _, code := range []string{
		api.CodeInvalidRequest, api.CodeUnknownMode, api.CodeNotFound, api.CodeMethodNotAllowed,
		api.CodeSoldOut, api.CodeInsufficientRooms, api.CodeConflict, api.CodePayloadTooLarge, api.CodeUnsupportedMedia,
		api.CodeUnavailable, api.CodeInternal, api.CodeHoldExpired, api.CodeHoldReleased,
		api.CodeHoldConfirmed, api.CodeIdempotencyKeyReused, api.CodeRequestInProgress, api.CodeOutcomeUnknown,
		api.CodeModeDisabled, api.CodeRoomsHeld, api.CodeHoldLimit, api.CodeUnauthenticated,
	} {
		if !documented[code] {
			t.Errorf("error code %q is not in openapi.yaml", code)
		}
	}
}

// The mode parameter lists exactly the modes a server can serve, in the
// registry's order, and reserve documents the 403 of a disabled one.
func TestOpenAPIModesAreTheRegistry(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
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
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	reserve := doc.Paths["/{event_id}/{hotel_id}/reserve/{mode}"].Post
	var documented []string
	for _, p := range reserve.Parameters {
		if p.Name == "mode" {
			documented = p.Schema.Enum
		}
	}
	served := db.NewStore(dbtest.NewPool(t, 1), db.Options{}).Strategies()
	if !slices.Equal(documented, served) {
		t.Errorf("openapi.yaml's modes %v; the server's %v", documented, served)
	}
	if _, ok := reserve.Responses["403"]; !ok || !strings.Contains(string(raw), "`mode_disabled`") {
		t.Errorf("reserve does not document 403 mode_disabled")
	}
}
