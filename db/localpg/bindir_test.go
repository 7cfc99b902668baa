package localpg

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// hideInstalledBinaries makes FindBinDir see only what the test sets up.
// Not parallel: it changes package state and the environment.
func hideInstalledBinaries(t *testing.T, globs ...string) {
	saved := searchGlobs
	searchGlobs = globs
	t.Cleanup(func() { searchGlobs = saved })
	t.Setenv("PG_BINDIR", "")
	t.Setenv("PATH", t.TempDir())
}

func fakeBinDir(t *testing.T, dir string) {
	writeExecutable(t, filepath.Join(dir, "initdb"), "#!/bin/sh\n")
	writeExecutable(t, filepath.Join(dir, "postgres"), "#!/bin/sh\n")
}

func TestFindBinDirNoBinaries(t *testing.T) {
	hideInstalledBinaries(t)
	t.Setenv("PG_BINDIR", t.TempDir())

	_, err := FindBinDir()
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("FindBinDir error = %v, want ErrNoBinaries", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "apt-get install postgresql") {
		t.Errorf("error should be one line saying what to install, got %q", msg)
	}

	// Start must fail the same way, before touching the disk.
	_, err = Start(testCtx(t), Options{})
	if !errors.Is(err, ErrNoBinaries) {
		t.Errorf("Start error = %v, want ErrNoBinaries", err)
	}
}

func TestFindBinDirPrefersNewestVersion(t *testing.T) {
	root := t.TempDir()
	for _, v := range []string{"9.6", "10", "15", "16"} {
		fakeBinDir(t, filepath.Join(root, "lib", v, "bin"))
	}
	// A version directory with only client programs does not qualify.
	writeExecutable(t, filepath.Join(root, "lib", "17", "bin", "psql"), "#!/bin/sh\n")
	hideInstalledBinaries(t, filepath.Join(root, "lib", "*", "bin"))

	got, err := FindBinDir()
	if want := filepath.Join(root, "lib", "16", "bin"); err != nil || got != want {
		t.Errorf("FindBinDir() = %q, %v; want %q", got, err, want)
	}
}

func TestFindBinDirOrder(t *testing.T) {
	root := t.TempDir()
	globbed := filepath.Join(root, "glob", "15", "bin")
	fromPgConfig := filepath.Join(root, "pgconfig")
	explicit := filepath.Join(root, "explicit")
	for _, d := range []string{globbed, fromPgConfig, explicit} {
		fakeBinDir(t, d)
	}
	hideInstalledBinaries(t, filepath.Join(root, "glob", "*", "bin"))
	pathDir := filepath.Join(root, "path")
	writeExecutable(t, filepath.Join(pathDir, "pg_config"), "#!/bin/sh\necho "+fromPgConfig+"\n")

	check := func(want string) {
		t.Helper()
		if got, err := FindBinDir(); err != nil || got != want {
			t.Errorf("FindBinDir() = %q, %v; want %q", got, err, want)
		}
	}
	check(globbed)

	t.Setenv("PATH", pathDir)
	check(fromPgConfig)

	t.Setenv("PG_BINDIR", explicit)
	check(explicit)

	// A PG_BINDIR without the binaries is skipped rather than fatal.
	t.Setenv("PG_BINDIR", t.TempDir())
	check(fromPgConfig)

	// pg_config from a client-only install points at a directory without
	// initdb; the search goes on.
	writeExecutable(t, filepath.Join(pathDir, "pg_config"), "#!/bin/sh\necho "+root+"\n")
	check(globbed)
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n": "PostgreSQL 15.18",
		"postgres (PostgreSQL) 17.2\n":                           "PostgreSQL 17.2",
		"garbage":                                                "PostgreSQL",
	} {
		if got := parseVersion([]byte(in)); got != want {
			t.Errorf("parseVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
