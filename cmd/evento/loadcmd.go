package main

import (
	"context"
	"errors"
	"flag"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/lab"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/nemesis"
)

type loadConfig struct {
	load        loadFlags
	targets     string
	event       int64
	databaseURL string
	faults      faultFlags
	apiKey      string
}

func newLoadCommand() *ffcli.Command {
	var cfg loadConfig
	fs := flag.NewFlagSet("evento load", flag.ContinueOnError)
	cfg.load.register(fs)
	cfg.faults.register(fs, []string{nemesis.LoseReplies})
	fs.StringVar(&cfg.apiKey, "api-key", "", "API key for servers started with --auth keys (better in env EVENTO_API_KEY or --api-key-file: a command line is visible to every user); every simulated client uses it, so they are one client")
	secretFileVar(fs, &cfg.apiKey, "api-key", "the API key")
	fs.StringVar(&cfg.targets, "target", "", "comma-separated base URLs of running servers (required)")
	fs.Int64Var(&cfg.event, "event", 0, "event to book (required; see evento seed)")
	databaseURLVar(fs, &cfg.databaseURL, "when set, also verify against the database's reservation rows (env DATABASE_URL)")
	return &ffcli.Command{
		Name:       "load",
		ShortUsage: "evento load --target URL[,URL...] --event ID [--clients N] [--strategy S] [flags]",
		ShortHelp:  "Run the clients against servers that already run elsewhere.",
		FlagSet:    fs,
		Exec:       noArgs(func(ctx context.Context) error { return runLoad(ctx, cfg) }),
	}
}

func runLoad(ctx context.Context, cfg loadConfig) error {
	think, err := cfg.load.validate()
	if err != nil {
		return err
	}
	if cfg.targets == "" || cfg.event < 1 {
		return usagef("--target and --event are required")
	}
	faults, err := loadFaults(&cfg.faults)
	if err != nil {
		return err
	}
	servers, err := parseTargets(cfg.targets)
	if err != nil {
		return err
	}
	history, closeHistory, err := cfg.faults.openHistory()
	if err != nil {
		return err
	}
	defer closeHistory()
	report, err := lab.Load(ctx, lab.LoadConfig{
		Servers: servers, EventID: cfg.event, DatabaseURL: cfg.databaseURL,
		Clients: cfg.load.clientConfig(think), Timeout: cfg.load.timeout, Progress: cfg.load.progressDisplay(),
		Faults: faults, FaultEvery: cfg.faults.every, History: history, APIKey: cfg.apiKey,
	})
	if err != nil {
		return explainLoadError(err, cfg)
	}
	return cfg.load.finish(ctx, report, os.Stdout)
}

// parseTargets reads --target: base URLs, each with its scheme and host.
func parseTargets(list string) ([]string, error) {
	servers := strings.Split(list, ",")
	for i, s := range servers {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		u, err := url.Parse(s)
		if err == nil && u.User != nil {
			// Said without the password, which would be on the screen.
			return nil, usagef("--target %q: want a base URL without user info (an API key goes in --api-key-file)", u.Redacted())
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, usagef("--target %q: want a server's base URL such as http://127.0.0.1:8080", s)
		}
		servers[i] = s
	}
	return servers, nil
}

// explainLoadError turns what the first read of the event met into one line
// naming the flag at fault.
func explainLoadError(err error, cfg loadConfig) error {
	var status *client.StatusError
	var database *lab.DatabaseError
	switch {
	case errors.As(err, &database):
		cause := "it does not answer"
		if errors.Is(err, syscall.ECONNREFUSED) {
			cause = "connection refused"
		}
		return usagef("--database-url %s: cannot connect (%s); unset it to verify through the API alone", redactURL(cfg.databaseURL), cause)
	case errors.As(err, &status) && status.Code == "not_found":
		return usagef("--event %d: the servers know no such event (evento seed makes one)", cfg.event)
	case errors.As(err, &status) && status.Code == "unauthenticated":
		return usagef("--api-key: the servers require a valid API key (evento clients add NAME makes one)")
	case errors.Is(err, syscall.ECONNREFUSED):
		return usagef("--target %s: nothing answers there (connection refused); is evento serve running?", cfg.targets)
	}
	return err
}

// loadFaults are the faults evento load can inject from outside servers it
// did not start: it loses their answers through a proxy, and nothing else.
// "all" is every one of those.
func loadFaults(f *faultFlags) ([]string, error) {
	if f.faults == "all" {
		f.faults = nemesis.LoseReplies
	}
	for _, kind := range strings.Split(f.faults, ",") {
		if kind = strings.TrimSpace(kind); slices.Contains(nemesis.HAKinds, kind) {
			return nil, usagef("--faults %s: evento load cannot reach the database's server or sessions (evento run --ha --faults %s can); load can inject: %s", kind, kind, nemesis.LoseReplies)
		}
	}
	faults, err := f.parse(false)
	if err != nil {
		return nil, err
	}
	for _, kind := range faults {
		switch {
		case kind == nemesis.LoseReplies:
		case kind == nemesis.KillServer || kind == nemesis.PauseServer:
			return nil, usagef("--faults %s: evento load did not start the servers, so it cannot kill or pause one (evento run --faults %s can); load can inject: %s", kind, kind, nemesis.LoseReplies)
		default:
			return nil, usagef("--faults %s: evento load cannot reach the database's server or sessions (evento run --faults %s can); load can inject: %s", kind, kind, nemesis.LoseReplies)
		}
	}
	return faults, nil
}
