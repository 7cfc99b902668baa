package explain

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// isolationRegress is where Debian and Ubuntu's postgresql-15 package puts
// PostgreSQL's isolation test driver; PG_ISOLATION_REGRESS overrides it.
func isolationRegress(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PG_ISOLATION_REGRESS"); p != "" {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/lib/pgxs/src/test/isolation/pg_isolation_regress")
	if len(matches) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("pg_isolation_regress not found (install postgresql-15, or set PG_ISOLATION_REGRESS): CI must run this test")
		}
		t.Skip("pg_isolation_regress not found: install PostgreSQL's server package (postgresql-15 on Debian/Ubuntu) or set PG_ISOLATION_REGRESS to run the specs")
	}
	return matches[len(matches)-1]
}

// Every run, written as a spec, passes PostgreSQL's own isolation tester
// against a real server: Evento's account of each interleaving (rows,
// waits, errors, their order) is what isolationtester sees too.
func TestSpecsPassPostgresIsolationTester(t *testing.T) {
	t.Parallel()
	bin := isolationRegress(t)
	target := newTarget(t)
	rep, err := Explain(testContext(t), target, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	specs, err := WriteSpecs(dir, rep.Runs)
	if err != nil {
		t.Fatal(err)
	}
	// sharded has no hold-vs-booking: its hotel's rooms are in buckets.
	want := 8*4 - 1 + 2
	if len(specs) != want {
		t.Fatalf("%d specs, want %d (every strategy in the 4 scenarios that apply to it but sharded's holds, and the anti-pattern twice)", len(specs), want)
	}
	cfg, err := pgx.ParseConfig(target.URL)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.CommandContext(testContext(t), bin,
		"--use-existing", "--inputdir", dir, "--outputdir", out, "--schedule", filepath.Join(dir, "schedule"),
		"--dbname", cfg.Database, "--host", cfg.Host, "--port", strconv.Itoa(int(cfg.Port)), "--user", cfg.User)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+cfg.Password)
	output, err := cmd.CombinedOutput()
	if err != nil {
		diffs, _ := os.ReadFile(filepath.Join(out, "regression.diffs"))
		t.Fatalf("pg_isolation_regress: %v\n%s\n%s", err, output, diffs)
	}
	if !strings.Contains(string(output), fmt.Sprintf("All %d tests passed", want)) {
		t.Fatalf("pg_isolation_regress did not say every test passed:\n%s", output)
	}
}

// The layout isolationtester printed on PostgreSQL 15 for these values
// (numbers right-aligned, text and timestamps left, NULL and ” blank).
func TestPQPrintLikeIsolationtester(t *testing.T) {
	s := func(v string) *string { return &v }
	got := pqPrint([]string{"id", "name", "ts", "b", "n"}, [][]*string{
		{s("1"), s("a"), s("2100-01-01 00:00:00+00"), s("t"), s("1.5")},
		{s("22222"), s("longer name"), s("2100-01-01 00:00:00.000001+00"), s("f"), nil},
	})
	want := "   id|name       |ts                           |b|  n\n" +
		"-----+-----------+-----------------------------+-+---\n" +
		"    1|a          |2100-01-01 00:00:00+00       |t|1.5\n" +
		"22222|longer name|2100-01-01 00:00:00.000001+00|f|   \n" +
		"(2 rows)\n\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got, want := pqPrint([]string{"key", "owned"}, nil), "key|owned\n---+-----\n(0 rows)\n\n"; got != want {
		t.Fatalf("empty result: got %q, want %q", got, want)
	}
}
