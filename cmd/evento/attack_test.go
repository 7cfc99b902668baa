package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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
	return a.sendTo(a.base, attack, method, path, body, key, header...)
}

// sendVia is send to another server than a.base.
func (a *attacker) sendVia(base, attack, method, path, body string) int {
	return a.sendTo(base, attack, method, path, body, a.key)
}

func (a *attacker) sendTo(base, attack, method, path, body, key string, header ...string) int {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
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
	a.tally(attack, status)
	return status
}

// tally counts one answer to attack.
func (a *attacker) tally(attack string, status int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.answers[attack] == nil {
		a.answers[attack] = map[int]int{}
	}
	a.answers[attack][status]++
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
// posts text/plain, and places ten holds of 5 rooms for the longest TTL;
// and a scalper's key tries to buy the hotel out, 400 × 5 rooms over both
// servers and every safe mode (the trial that sold 2,000 rooms in 0.42 s).
// The simulation, whose one key ("shop", a storefront selling to many
// people) has a limit of its own, still ends consistent and sold out
// (their rooms aside: the scalper's bookings during the load are another
// client's, not phantoms); she books nothing, frees nothing, stores no
// key, and holds no more than her cap; the scalper stops at the limit per
// client, 10 rooms.
func TestAttackerBesideASimulation(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "1", "500")
	keys := map[string]string{}
	for _, name := range []string{"shop", "mallory", "scalper", "squatter"} {
		args := []string{"clients", "add", name, "--json"}
		if name == "shop" {
			args = append(args, "--max-rooms-per-event", "1000")
		}
		added := runEvento(t, bundle.env, args...)
		var out struct {
			APIKey string `json:"api_key"`
		}
		if added.exit != 0 || json.Unmarshal([]byte(added.stdout), &out) != nil {
			t.Fatalf("clients add %s: exit %d %q", name, added.exit, added.stderr)
		}
		keys[name] = out.APIKey
	}
	// A small --max-conns, so that idle connections could fill it; its
	// share for one address (a quarter, 64) is still above what the load
	// and the attackers open from 127.0.0.1.
	servers := startServers(t, bundle, 2, "--auth", "keys", "--max-conns", "256")

	mallory := &attacker{base: servers[1].URL, key: keys["mallory"], eventID: event.EventID, hotelID: event.Hotels[0].HotelID,
		http: &http.Client{Timeout: 10 * time.Second}, answers: map[string]map[int]int{}}
	// Ten holds of 5 rooms for the longest TTL the server allows, first.
	for range 10 {
		mallory.send("max holds", "POST", fmt.Sprintf("/%d/%d/holds", event.EventID, event.Hotels[0].HotelID),
			`{"name":"mallory","rooms":5,"ttl_seconds":900}`, mallory.key)
	}

	scalper := &attacker{key: keys["scalper"], eventID: event.EventID, hotelID: event.Hotels[0].HotelID,
		http: &http.Client{Timeout: 10 * time.Second}, answers: map[string]map[int]int{}}
	safeModes := []string{"atomic", "pessimistic", "optimistic", "serializable", "advisory", "sharded", "batched"}
	done := make(chan struct{})
	var attacks sync.WaitGroup
	// The buy-out starts once the load has booked: what the scalper books
	// is booked while the load runs, by another client.
	loadBooks := make(chan struct{})
	attacks.Go(func() {
		defer close(loadBooks)
		conn, err := pgx.Connect(context.Background(), bundle.url)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			var n int
			err := conn.QueryRow(context.Background(), `SELECT count(*) FROM reservations r JOIN api_clients c ON c.id = r.client_id WHERE c.name = 'shop'`).Scan(&n)
			if err != nil || n > 0 {
				return
			}
		}
	})
	for w := range 8 {
		attacks.Go(func() {
			<-loadBooks
			for i := w; i < 400; i += 8 {
				scalper.sendVia(servers[i%2].URL, "buy-out", "POST",
					fmt.Sprintf("/%d/%d/reserve/%s", event.EventID, event.Hotels[0].HotelID, safeModes[i%len(safeModes)]),
					`{"name":"alice","rooms":5}`)
			}
		})
	}
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
	// Release and re-hold, again and again: the cooldown ends it after
	// the first hold.
	squatter := &attacker{base: servers[0].URL, key: keys["squatter"], eventID: event.EventID, hotelID: event.Hotels[0].HotelID,
		http: &http.Client{Timeout: 10 * time.Second}, answers: map[string]map[int]int{}}
	attacks.Go(func() { squatter.reHold(t, done) })
	// A stranger's flood of one made-up key: the servers ask the database
	// about it once each (per 15 s), not once a request. api_clients'
	// key index is read by key lookups alone.
	lookups := func() (n int64) {
		scanRow(t, bundle.url, `SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes WHERE indexrelname = 'api_clients_key_hash_key'`, nil, &n)
		return n
	}
	stranger := &attacker{base: servers[1].URL, key: "evk_" + strings.Repeat("0", 43), eventID: event.EventID, hotelID: event.Hotels[0].HotelID,
		http: &http.Client{Timeout: 10 * time.Second}, answers: map[string]map[int]int{}}
	var lookupsBefore, lookupsAfter int64
	attacks.Go(func() {
		lookupsBefore = lookups()
		for i := range 1000 {
			stranger.sendVia(servers[i%2].URL, "bad key", "POST", fmt.Sprintf("/%d/%d/reserve/atomic", event.EventID, event.Hotels[0].HotelID),
				`{"name":"stranger","rooms":1}`)
		}
		// A backend reports its statistics when idle, at most 10 s late.
		time.Sleep(11 * time.Second)
		lookupsAfter = lookups()
	})
	// Idle keep-alives from another address, more than the server's
	// share for one address: the surplus is closed at once, the rest when
	// room is needed, and the load's connections get in.
	idle := openIdleConnections(t, servers[1].URL, "127.0.0.2", 200)
	r := runEvento(t, bundle.env, "load", "--target", servers[0].URL+","+servers[1].URL, "--event", itoa(event.EventID),
		"--api-key", keys["shop"], "--clients", "30", "--strategy", "atomic", "--think", "10ms-40ms",
		"--json", "--expect", "consistent")
	close(done)
	attacks.Wait()
	closedIdle := idle.closed()
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
	if got := scalper.answers["buy-out"]; got[201] != 2 || got[409] != 398 {
		t.Errorf("400 bookings of 5 rooms from one key: %v, want 2 booked and 398 refused with 409 (client_limit)", got)
	}

	var scalped, unowned int
	scanRow(t, bundle.url, `
		SELECT (SELECT coalesce(sum(r.number), 0) FROM reservations r JOIN api_clients c ON c.id = r.client_id
		         WHERE c.name = 'scalper'),
		       (SELECT count(*) FROM reservations WHERE client_id IS NULL)`, nil, &scalped, &unowned)
	if scalped != 10 || unowned != 0 {
		t.Fatalf("the scalper's key booked %d rooms (limit 10); %d reservations have no client", scalped, unowned)
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
	if got := squatter.answers["re-hold"]; got[201] != 1 || got[429] == 0 || len(got) != 2 {
		t.Errorf("release and re-hold: %v, want one hold placed and every later one refused with 429 (hold_cooldown)", got)
	}
	if got := stranger.answers["bad key"]; got[401] != 1000 {
		t.Errorf("a made-up key: %v, want 1000 × 401", got)
	}
	// At most one lookup of the made-up key per server, plus the live
	// keys' (each cached 5 s per server) while the flood and the wait ran.
	if n := lookupsAfter - lookupsBefore; n > 50 {
		t.Errorf("1000 requests with one made-up key cost %d key lookups in the database; want about one per server", n)
	}
	if closedIdle < 200-256/4 {
		t.Errorf("%d of 200 idle connections from one address were closed; want all but the address's share (%d)", closedIdle, 256/4)
	}
	t.Logf("mallory's answers: %v; key lookups during the stranger's flood: %d; idle connections closed: %d",
		mallory.answers, lookupsAfter-lookupsBefore, closedIdle)
}

// reHold holds 5 rooms and releases them, again and again until done:
// the cheap way to keep rooms away from everyone else for ever.
func (a *attacker) reHold(t *testing.T, done <-chan struct{}) {
	holds := fmt.Sprintf("%s/%d/%d/holds", a.base, a.eventID, a.hotelID)
	for {
		select {
		case <-done:
			return
		case <-time.After(20 * time.Millisecond):
		}
		req, _ := http.NewRequest("POST", holds, strings.NewReader(`{"name":"squatter","rooms":5,"ttl_seconds":900}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.key)
		resp, err := a.http.Do(req)
		if err != nil {
			continue
		}
		var hold struct {
			HoldID string `json:"hold_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&hold)
		resp.Body.Close()
		a.tally("re-hold", resp.StatusCode)
		if resp.StatusCode == http.StatusCreated {
			release, _ := http.NewRequest("DELETE", holds+"/"+hold.HoldID, nil)
			release.Header.Set("Authorization", "Bearer "+a.key)
			if resp, err := a.http.Do(release); err == nil {
				resp.Body.Close()
			}
		}
	}
}

// idleConnections are keep-alive connections that asked one thing and
// then sat idle.
type idleConnections struct {
	opened int // asked for; those refused at once are not in conns
	conns  []net.Conn
}

// openIdleConnections opens n connections to base from the local address
// from, each sending one GET /healthz and reading its answer, and leaves
// them open.
func openIdleConnections(t *testing.T, base, from string, n int) *idleConnections {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	idle := &idleConnections{opened: n}
	t.Cleanup(func() {
		for _, c := range idle.conns {
			c.Close()
		}
	})
	for range n {
		c, err := dialer.Dial("tcp", u.Host)
		if err != nil {
			continue // refused at once: the address's share is full
		}
		idle.conns = append(idle.conns, c)
		_, _ = fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", u.Host)
	}
	return idle
}

// closed counts the connections the server has closed (or never kept).
func (idle *idleConnections) closed() (n int) {
	buf := make([]byte, 4096)
	for _, c := range idle.conns {
		_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					n++ // EOF or reset: closed by the server
				}
				break
			}
		}
	}
	return n + idle.opened - len(idle.conns)
}
