package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// A command line is visible to every user of the machine (ps,
// /proc/PID/cmdline) for as long as the process runs; its environment and
// a file of mode 0600 are its user's alone. So every secret flag has an
// environment variable (ff's EVENTO_ one) and a -file twin, and a secret
// given on the command line anyway is used, with a warning.

// secretFileVar registers NAME-file, which sets *p to the contents of a
// file (surrounding white space trimmed): the way to hand a secret to
// evento that no other user of the machine can read.
func secretFileVar(fs *flag.FlagSet, p *string, name, what string) {
	fs.Var(&secretFile{p}, name+"-file", "read "+what+" from this file (mode 0600), not the command line: a command line is visible to every user of the machine (ps)")
}

// secretFile reads the secret when the flag is set; its printed value is
// the file's name, never the secret.
type secretFile struct{ value *string }

func (s *secretFile) String() string { return "" }

func (s *secretFile) Set(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return fmt.Errorf("%s is empty", path)
	}
	*s.value = v
	return nil
}

// secretFlags are the flags whose value may hold a secret, and whether a
// given value does: an API key always, a URL when it holds a password.
var secretFlags = map[string]func(value string) bool{
	"api-key":      func(string) bool { return true },
	"database-url": holdsPassword,
	"migrate-url":  holdsPassword,
}

func holdsPassword(url string) bool { return redactURL(url) != url }

// warnSecretsInArgs writes one line to w for each secret flag whose value
// on the command line args holds a secret, naming the flag and its
// alternatives, never the value. The secret is used all the same: by now
// it is in the process list, and refusing would only trade a leak for an
// outage.
func warnSecretsInArgs(w io.Writer, args []string) {
	warned := map[string]bool{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return
		}
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		secret, ok := secretFlags[name]
		if !ok {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		if secret(value) && !warned[name] {
			warned[name] = true
			env := "EVENTO_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
			if name == "database-url" {
				env = "DATABASE_URL"
			}
			fmt.Fprintf(w, "evento: warning: --%s on the command line is visible to every user of this machine (ps); give it in %s or --%s-file instead\n", name, env, name)
		}
	}
}
