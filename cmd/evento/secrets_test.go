package main

import (
	"strings"
	"testing"
)

func TestRedactURLHidesEveryPassword(t *testing.T) {
	t.Parallel()
	cases := []struct{ raw, want string }{
		{"postgres://ada:s3cret@db:5432/evento?sslmode=disable", "postgres://ada:xxxxx@db:5432/evento?sslmode=disable"},
		{"postgresql://ada:s3cret@db/evento", "postgresql://ada:xxxxx@db/evento"},
		{"postgres://db/evento?user=ada&password=s3cret", "postgres://db/evento?password=xxxxx&user=ada"},
		{"postgres://ada@db/evento?sslpassword=s3cret", "postgres://ada@db/evento?sslpassword=xxxxx"},
		{"host=db user=ada password=s3cret dbname=evento", "host=db user=ada password=xxxxx dbname=evento"},
		{"host=db password = 's3 cret' dbname=evento", "host=db password = xxxxx dbname=evento"},
		{"postgres://ada:s3 cret%@db/evento", "postgres://xxxxx@db/evento"},
		{"postgres://ada@db/evento", "postgres://ada@db/evento"},
		{"", ""},
	}
	for _, c := range cases {
		if got := redactURL(c.raw); got != c.want || strings.Contains(got, "s3") {
			t.Errorf("redactURL(%q) = %q, want %q", c.raw, got, c.want)
		}
	}
}

// The database password is in DATABASE_URL; no command's --help, nor the
// one-line error for a database that does not answer, may print it.
func TestHelpAndErrorsHideTheDatabasePassword(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=postgres://ada:s3cretpw@127.0.0.1:1/evento"}
	for _, args := range [][]string{
		{"--help"}, {"run", "--help"}, {"compare", "--help"}, {"bench", "--help"}, {"load", "--help"},
		{"serve", "--help"}, {"seed", "--help"}, {"migrate", "--help"},
	} {
		r := runEvento(t, env, args...)
		if r.exit != 0 || strings.Contains(r.stdout+r.stderr, "s3cretpw") || !strings.Contains(r.stdout, "postgres://ada:xxxxx@127.0.0.1:1/evento") {
			t.Errorf("evento %v: exit %d; want the URL with its password hidden:\n%s%s", args, r.exit, r.stdout, r.stderr)
		}
	}
	// serve retries a database that does not answer: briefly here, so that
	// its retry lines are checked too.
	for _, args := range [][]string{{"serve", "--wait-for-database", "1s"}, {"seed"}, {"migrate"}} {
		r := runEvento(t, env, args...)
		if r.exit != 2 || strings.Contains(r.stdout+r.stderr, "s3cretpw") || !strings.Contains(r.stderr, "127.0.0.1:1") {
			t.Errorf("evento %v: exit %d; want one line naming 127.0.0.1:1 and no password:\n%s%s", args, r.exit, r.stdout, r.stderr)
		}
	}
}
