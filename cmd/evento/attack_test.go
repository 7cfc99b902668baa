package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/evento-lab/evento/lab/checker"
)

// attacker is mallory: a client with a key of her own, or none, sending
// what a hostile client sends. It tallies every answer by what was tried.
type attacker struct {
	base    string
	key     string
	eventID int64
	hotelID int64
	http    *http.Client

	mu      sync.Mutex
	answers map[string]map[int]int // attack -> status -> count
}

func (a *attacker) send(attack, method, path, body, key string, header ...string) int {
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	status := 0
	if resp, err := a.http.Do(req); err == nil {
		status = resp.StatusCode
		resp.Body.Close()
	}
	a.mu.Lock()
	if a.answers[attack] == nil {
		a.answers[attack] = map[int]int{}
	}
	a.answers[attack][status]++
	a.mu.Unlock()
	return status
}

// round is one pass of every attack but the holds.
func (a *attacker) round(i int) {
	hotel := fmt.Sprintf("/%d/%d", a.eventID, a.hotelID)
	// The unsafe strategy, which a default server does not serve.
	a.send("naive", "POST", hotel+"/reserve/naive", `{"name":"mallory","rooms":5}`, a.key)
	// No key, a made-up key.
	a.send("no key", "POST", hotel+"/reserve/atomic", `{"name":"mallory","rooms":1}`, "")
	a.send("no key", "POST", hotel+"/reserve/atomic", `{"name":"mallory","rooms":1}`, "evk_made-up")
	// Walking row ids and guessing handles, to read, confirm or free
	// somebody's hold.
	var b [16]byte
	_, _ = rand.Read(b[:])
	for _, id := range []string{fmt.Sprint(i + 1), "hold_" + base64.RawURLEncoding.EncodeToString(b[:])} {
		a.send("hold walk", "GET", hotel+"/holds/"+id, "", a.key)
		a.send("hold walk", "POST", hotel+"/holds/"+id+"/confirm", "", a.key)
		a.send("hold walk", "DELETE", hotel+"/holds/"+id, "", a.key)
	}
	// Squatting keys on a request that finds nothing.
	a.send("key squat", "POST", fmt.Sprintf("/%d/%d/reserve/atomic", a.eventID, a.hotelID+1000),
		`{"name":"mallory","rooms":1}`, a.key, "Idempotency-Key", fmt.Sprintf("order-%d", i))
	// A browser's cross-origin simple POST.
	a.send("text/plain", "POST", hotel+"/reserve/atomic", `{"name":"mallory","rooms":1}`, a.key, "Content-Type", "text/plain")
}

// An attacker beside a normal simulation, on two real servers with the
// default settings and --auth keys: she asks for the unsafe strategy,
// walks hold ids and guesses handles, squats idempotency keys on 404s,
// posts text/plain, and places ten holds of 5 rooms for the longest TTL.
// The simulation still ends consistent and sold out (her capped holds
// aside), and she books nothing, frees nothing, stores no key, and holds
// no more than her cap.
func TestAttackerBesideASimulation(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "1", "200")
	keys := map[string]string{}
	for _, name := range []string{"shop", "mallory"} {
		added := runEvento(t, bundle.env, "clients", "add", name, "--json")
		var out struct {
			APIKey string `json:"api_key"`
		}
		if added.exit != 0 || json.Unmarshal([]byte(added.stdout), &out) != nil {
			t.Fatalf("clients add %s: exit %d %q", name, added.exit, added.stderr)
		}
		keys[name] = out.APIKey
	}
	servers := startServers(t, bundle, 2, "--auth", "keys")

	mallory := &attacker{base: servers[1].URL, key: keys["mallory"], eventID: event.EventID, hotelID: event.Hotels[0].HotelID,
		http: &http.Client{Timeout: 10 * time.Second}, answers: map[string]map[int]int{}}
	// Ten holds of 5 rooms for the longest TTL the server allows, first.
	for range 10 {
		mallory.send("max holds", "POST", fmt.Sprintf("/%d/%d/holds", event.EventID, event.Hotels[0].HotelID),
			`{"name":"mallory","rooms":5,"ttl_seconds":900}`, mallory.key)
	}

	done := make(chan struct{})
	var attacks sync.WaitGroup
	attacks.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			mallory.round(i)
		}
	})
	r := runEvento(t, bundle.env, "load", "--target", servers[0].URL+","+servers[1].URL, "--event", itoa(event.EventID),
		"--api-key", keys["shop"], "--clients", "30", "--strategy", "atomic", "--think", "10ms-40ms",
		"--json", "--expect", "consistent")
	close(done)
	attacks.Wait()
	report := decodeReport(t, r, 0)
	h := report.Hotels[0]
	if report.Verdict != checker.Consistent || report.ClientsGaveUp != 0 || report.Unknown.Requests != 0 || h.Booked+h.Locked != h.Assigned {
		t.Fatalf("verdict %s, gave up %d, unknown %+v, hotel %+v: want consistent and sold out but for mallory's holds",
			report.Verdict, report.ClientsGaveUp, report.Unknown, h)
	}

	want := map[string]int{"naive": 403, "no key": 401, "hold walk": 404, "key squat": 404, "text/plain": 415}
	for attack, status := range want {
		got := mallory.answers[attack]
		if len(got) != 1 || got[status] == 0 {
			t.Errorf("%s: answers %v, want only %d", attack, got, status)
		}
	}
	if got := mallory.answers["max holds"]; got[201] != 2 || got[429] != 8 {
		t.Errorf("ten holds of 5 rooms under a cap of 10: %v, want 2 placed and 8 refused with 429", got)
	}

	var booked, held, squatted int
	scanRow(t, bundle.url, `
		SELECT (SELECT count(*) FROM reservations WHERE name = 'mallory'),
		       (SELECT coalesce(sum(h.rooms), 0) FROM holds h JOIN api_clients c ON c.id = h.client_id
		         WHERE c.name = 'mallory' AND h.state = 'held'),
		       (SELECT count(*) FROM idempotency_keys k, api_clients c
		         WHERE c.name = 'mallory' AND k.key LIKE 'c' || c.id || ':%')`, nil, &booked, &held, &squatted)
	if booked != 0 || held != 10 || squatted != 0 {
		t.Fatalf("mallory booked %d reservations, holds %d rooms, kept %d keys; want 0, 10 (her cap), 0", booked, held, squatted)
	}
	t.Logf("mallory's answers: %v", mallory.answers)
}
