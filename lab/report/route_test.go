package report

import (
	"strings"
	"testing"

	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
)

// A run routed by hotel says so on its first line and in its JSON; a
// round-robin run, the default, says nothing of it.
func TestReportNamesARouteOtherThanRoundRobin(t *testing.T) {
	t.Parallel()
	for route, want := range map[client.Route]string{client.ByHotel: "2 servers, routed by hotel, think", client.RoundRobin: "2 servers, think"} {
		r := Build(Meta{Strategy: "batched", Clients: 4, Servers: 2, Route: route}, client.Result{}, checker.Result{})
		var text, encoded strings.Builder
		if err := r.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&encoded); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), want) {
			t.Errorf("route %s: the first line is %q, want %q in it", route, strings.SplitN(text.String(), "\n", 2)[0], want)
		}
		if named := strings.Contains(encoded.String(), `"route": "hotel"`); named != (route == client.ByHotel) {
			t.Errorf("route %s: the JSON names route hotel: %v", route, named)
		}
	}
}
