package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNoBinaries is returned when no directory with the PostgreSQL server
// binaries (initdb and postgres) can be found. Its message is a single line
// telling the user what to install or configure.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found: install them (apt-get install postgresql, brew install postgresql), set PG_BINDIR, or set DATABASE_URL")

// searchGlobs lists the conventional install locations, in preference order.
// It is a variable so tests can hide the binaries installed on the machine.
var searchGlobs = []string{
	"/usr/lib/postgresql/*/bin",          // Debian, Ubuntu
	"/opt/homebrew/opt/postgresql@*/bin", // Homebrew on Apple silicon
	"/usr/local/opt/postgresql@*/bin",    // Homebrew on Intel
	"/opt/homebrew/bin",
	"/usr/local/bin",
	"/usr/pgsql-*/bin", // RHEL, Fedora (PGDG packages)
}

// FindBinDir returns a directory holding the initdb and postgres
// executables. It consults, in order: $PG_BINDIR, `pg_config --bindir`,
// /usr/lib/postgresql/*/bin, the Homebrew locations and /usr/pgsql-*/bin.
// When a pattern matches several versions the newest is preferred. It
// returns an error wrapping ErrNoBinaries when nothing qualifies.
func FindBinDir() (string, error) {
	env := os.Getenv("PG_BINDIR")
	if env != "" && isBinDir(env) {
		return env, nil
	}
	if dir := pgConfigBinDir(); dir != "" && isBinDir(dir) {
		return dir, nil
	}
	for _, pattern := range searchGlobs {
		matches, _ := filepath.Glob(pattern) // the only possible error is a malformed pattern
		sortNewestFirst(matches)
		for _, dir := range matches {
			if isBinDir(dir) {
				return dir, nil
			}
		}
	}
	if env != "" {
		// An explicit setting that does not work deserves a mention, or the
		// user will wonder why it was ignored.
		return "", fmt.Errorf("PG_BINDIR=%s has no initdb and postgres; %w", env, ErrNoBinaries)
	}
	return "", ErrNoBinaries
}

// pgConfigBinDir asks pg_config where the binaries are. Client-only installs
// ship pg_config too, which is why the caller still checks the answer.
func pgConfigBinDir() string {
	path, err := exec.LookPath("pg_config")
	if err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--bindir").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func isBinDir(dir string) bool {
	return isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres"))
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

var digitRuns = regexp.MustCompile(`[0-9]+`)

// sortNewestFirst orders paths by the version numbers embedded in them, so
// that "15" beats "9.6" (a plain string sort would get that wrong).
func sortNewestFirst(paths []string) {
	key := func(p string) []int {
		var v []int
		for _, s := range digitRuns.FindAllString(p, -1) {
			n, _ := strconv.Atoi(s)
			v = append(v, n)
		}
		return v
	}
	slices.SortStableFunc(paths, func(a, b string) int {
		return slices.Compare(key(b), key(a))
	})
}

// serverVersion returns e.g. "PostgreSQL 15.18" from `postgres --version`
// ("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)").
func serverVersion(ctx context.Context, binDir string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "postgres"), "--version").Output()
	if err != nil {
		return "PostgreSQL"
	}
	return parseVersion(out)
}

func parseVersion(out []byte) string {
	fields := strings.Fields(string(bytes.TrimSpace(out)))
	for i, f := range fields {
		if f == "(PostgreSQL)" && i+1 < len(fields) {
			return "PostgreSQL " + fields[i+1]
		}
	}
	return "PostgreSQL"
}
