package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretsOnTheCommandLineAreWarnedOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		want []string // the flags warned of
	}{
		{[]string{"load", "--api-key", "evk_x", "--target", "u"}, []string{"api-key"}},
		{[]string{"load", "-api-key=evk_x", "--api-key", "evk_y"}, []string{"api-key"}}, // once
		{[]string{"seed", "--database-url", "postgres://ada:pw@db/evento"}, []string{"database-url"}},
		{[]string{"seed", "--database-url=postgres://ada@db/evento"}, nil}, // no password, no secret
		{[]string{"serve", "--migrate-url", "host=db password=pw"}, []string{"migrate-url"}},
		{[]string{"load", "--api-key-file", "/run/key"}, nil},
		{[]string{"load", "--", "--api-key", "evk_x"}, nil},
	}
	for _, c := range cases {
		var out strings.Builder
		warnSecretsInArgs(&out, c.args)
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if out.Len() == 0 {
			lines = nil
		}
		if len(lines) != len(c.want) {
			t.Errorf("%v: warned %q, want of %v", c.args, lines, c.want)
			continue
		}
		for i, flag := range c.want {
			if !strings.HasPrefix(lines[i], "evento: warning: --"+flag+" on the command line is visible to every user") ||
				!strings.Contains(lines[i], "--"+flag+"-file") || strings.Contains(lines[i], "pw") || strings.Contains(lines[i], "evk_") {
				t.Errorf("%v: warned %q, want a line naming --%s and its alternatives, never the value", c.args, lines[i], flag)
			}
		}
	}
}

// An API key reaches evento load from a file or the environment, with no
// warning; on the command line it still works, with a warning that does
// not repeat it.
func TestLoadReadsItsAPIKeyFromAFileOrTheEnvironment(t *testing.T) {
	t.Parallel()
	bundle := setup(t)
	event := seedEvent(t, bundle, "1", "40")
	added := runEvento(t, bundle.env, "clients", "add", "shop", "--json")
	var out struct {
		APIKey string `json:"api_key"`
	}
	if added.exit != 0 || json.Unmarshal([]byte(added.stdout), &out) != nil {
		t.Fatalf("clients add: exit %d %q", added.exit, added.stderr)
	}
	server := startServers(t, bundle, 1, "--auth", "keys")[0]
	dir := t.TempDir()
	keyFile, wrongFile := filepath.Join(dir, "key"), filepath.Join(dir, "wrong")
	if err := os.WriteFile(keyFile, []byte(out.APIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wrongFile, []byte("evk_not-a-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(env []string, args ...string) runResult {
		t.Helper()
		return runEvento(t, append([]string{"DATABASE_URL=", "EVENTO_API_KEY="}, env...), append([]string{"load", "--target", server.URL,
			"--event", itoa(event.EventID), "--clients", "2", "--strategy", "atomic", "--think", "0", "--json"}, args...)...)
	}
	for name, r := range map[string]runResult{
		"--api-key-file":      load(nil, "--api-key-file", keyFile),
		"EVENTO_API_KEY":      load([]string{"EVENTO_API_KEY=" + out.APIKey}),
		"EVENTO_API_KEY_FILE": load([]string{"EVENTO_API_KEY_FILE=" + keyFile}),
	} {
		if r.exit != 0 || strings.Contains(r.stderr, "warning") {
			t.Errorf("load with the key in %s: exit %d, stderr %q; want it accepted without a warning", name, r.exit, r.stderr)
		}
	}
	r := load(nil, "--api-key", out.APIKey)
	if r.exit != 0 || strings.Count(r.stderr, "evento: warning: --api-key on the command line") != 1 || strings.Contains(r.stderr, out.APIKey) {
		t.Errorf("load --api-key KEY: exit %d, stderr %q; want it accepted, one warning, the key not repeated", r.exit, r.stderr)
	}
	// The file's key is the one sent: a wrong one is refused.
	checkUsageError(t, load(nil, "--api-key-file", wrongFile), "load --api-key-file (a wrong key)", "--api-key", "valid API key")
	checkUsageError(t, load(nil, "--api-key-file", filepath.Join(dir, "missing")), "load --api-key-file (no such file)", "-api-key-file", "no such file")
}

// DATABASE_URL from a file: read (the error names the server in it),
// and no warning; on the command line, a warning without the password.
func TestDatabaseURLFromAFile(t *testing.T) {
	t.Parallel()
	const url = "postgres://ada:s3cretpw@127.0.0.1:1/evento"
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runEvento(t, []string{"DATABASE_URL="}, "seed", "--database-url-file", file)
	checkUsageError(t, r, "seed --database-url-file", "127.0.0.1:1")
	if strings.Contains(r.stderr, "s3cretpw") {
		t.Errorf("seed --database-url-file shows the password: %q", r.stderr)
	}
	r = runEvento(t, []string{"DATABASE_URL="}, "seed", "--database-url", url)
	if r.exit != 2 || !strings.HasPrefix(r.stderr, "evento: warning: --database-url on the command line") ||
		strings.Count(r.stderr, "\n") != 2 || strings.Contains(r.stderr, "s3cretpw") {
		t.Errorf("seed --database-url URL: exit %d, stderr %q; want a warning, then the error, never the password", r.exit, r.stderr)
	}
}
