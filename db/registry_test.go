package db_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/evento-lab/evento"
	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/dbtest"
	"github.com/evento-lab/evento/db/internal/dbsqlc"
)

// Adding a strategy is its SQL, its Go function and one registry entry.
// This ninth one, "conditional", reuses atomic.sql's statement (its SQL
// file is already there) with a Go function of its own, and is served by
// the real API through the registry alone: no other code knows its name.
func TestANinthStrategyNeedsOnlyARegistryEntry(t *testing.T) {
	t.Parallel()
	conditional := db.Strategy{
		Name:       "conditional",
		ChooseWhen: "a test needs a ninth strategy",
		Price:      "none: it is atomic's conditional UPDATE under another name",
		Safe:       true,
		Book: func(ctx context.Context, st db.Statements, req evento.BookRequest) (evento.Booking, error) {
			id, err := st.Q.AtomicBook(ctx, st.Write, dbsqlc.AtomicBookParams{
				EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms,
			})
			if errors.Is(err, pgx.ErrNoRows) {
				return evento.Booking{}, &evento.ShortfallError{Requested: req.Rooms}
			}
			return evento.Booking{ReservationID: id, EventID: req.EventID, HotelID: req.HotelID, Name: req.Name, Rooms: req.Rooms}, err
		},
	}
	pool := dbtest.NewPool(t, 4)
	hotel := seedHotel(t, pool, 3)
	store := db.NewStore(pool, db.Options{Strategies: append(db.Strategies[:len(db.Strategies):len(db.Strategies)], conditional)})
	server := httptest.NewServer(api.NewServer(store, api.Options{Log: discardLog()}))
	t.Cleanup(server.Close)

	post := func(rooms int) (int, string) {
		t.Helper()
		resp, err := http.Post(fmt.Sprintf("%s/%d/%d/reserve/conditional", server.URL, hotel.EventID, hotel.HotelID),
			"application/json", strings.NewReader(fmt.Sprintf(`{"name":"eve","rooms":%d}`, rooms)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := post(2); status != http.StatusCreated || !strings.Contains(body, `"mode":"conditional"`) {
		t.Fatalf("first booking: %d %s", status, body)
	}
	if status, body := post(2); status != http.StatusConflict || !strings.Contains(body, "sold_out") {
		t.Fatalf("2 of 1 left: %d %s; want the refusal rendered as every strategy's", status, body)
	}
	if totals := readTotals(t, pool, hotel.HotelID); totals.booked != 2 || totals.reserved != 2 {
		t.Fatalf("totals %+v", totals)
	}
}

// Each strategy declares its booking writes by sending them to
// Statements.Write: that is what --race-window delays and the interleaving
// tests pause before. A strategy whose write went through Read would
// silently escape both; this catches it.
func TestEveryStrategyDeclaresItsWrites(t *testing.T) {
	t.Parallel()
	pool := dbtest.NewPool(t, 2)
	hotel := seedHotel(t, pool, 100)
	ctx := testContext(t)
	for _, strategy := range db.Strategies {
		writes := 0
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			st := db.Statements{Q: queries, Read: tx, Write: steppedTx{DBTX: tx, before: func() { writes++ }}}
			req := hotel.request("w", 1)
			if strategy.BookBatch != nil {
				outcomes, err := strategy.BookBatch(ctx, st, []evento.BookRequest{req}, nil)
				if err == nil {
					err = outcomes[0].Refusal
				}
				return err
			}
			_, err := strategy.Book(ctx, st, req)
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", strategy.Name, err)
		}
		if writes == 0 {
			t.Errorf("%s booked without a statement through Statements.Write", strategy.Name)
		}
	}
}

// The README's table of strategies is the registry's, row for row and in
// its order, and every file a row links to exists: a strategy added to
// the registry, renamed or moved is named here until the README says so.
func TestTheREADMEListsTheRegistry(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|(.*)$")
	link := regexp.MustCompile(`\]\(((?:queries|db)/[^)#]+)\)`)
	// The last cell says what the strategy does to the anomaly, in words: a
	// table rewritten by a script once put measured rates there.
	anomaly := regexp.MustCompile(`\| [^|]*\b(prevents|detects|lets)\b[^|]*\|\s*$`)
	var listed []string
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		listed = append(listed, m[1])
		if !anomaly.MatchString(m[2]) {
			t.Errorf("the README's row for %s does not end with the anomaly it prevents, detects or lets through: %s", m[1], m[2])
		}
		for _, l := range link.FindAllStringSubmatch(m[2], -1) {
			if _, err := os.Stat("../" + l[1]); err != nil {
				t.Errorf("the README's row for %s links to %s: %v", m[1], l[1], err)
			}
		}
	}
	var registered []string
	for _, s := range db.Strategies {
		registered = append(registered, s.Name)
		if _, err := os.Stat("../queries/" + s.Name + ".sql"); err != nil {
			t.Errorf("strategy %s has no queries/%s.sql: %v", s.Name, s.Name, err)
		}
	}
	if !slices.Equal(listed, registered) {
		t.Errorf("the README's strategy table lists %v; the registry (db/registry.go) has %v", listed, registered)
	}
}

// The README's "Which strategy should I use?" names every strategy once,
// in the very words of its declaration (ChooseWhen, Price), which compare's
// recommendation also prints: a strategy added, or a sentence reworded in
// one place, fails here until the other says the same.
func TestTheREADMEAnswersWhichStrategy(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Which strategy should I use?")
	if !ok {
		t.Fatal(`the README has no "## Which strategy should I use?"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| (.+?) \\| `([a-z_]+)` \\| (.+?) \\|")
	rows := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		if _, twice := rows[m[2]]; twice {
			t.Errorf("the README answers with %s twice", m[2])
		}
		rows[m[2]] = []string{m[1], m[3]}
	}
	for _, s := range db.Strategies {
		got, ok := rows[s.Name]
		switch {
		case !ok:
			t.Errorf("the README's which-strategy table has no row for %s", s.Name)
		case got[0] != s.ChooseWhen || got[1] != s.Price:
			t.Errorf("the README's row for %s says\n  %q / %q\nits declaration says\n  %q / %q", s.Name, got[0], got[1], s.ChooseWhen, s.Price)
		}
		delete(rows, s.Name)
	}
	for name := range rows {
		t.Errorf("the README's which-strategy table names %s, which the registry does not have", name)
	}
}
