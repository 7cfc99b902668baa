package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/api"
	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
)

// minKeepKeys is the shortest retention serve accepts for idempotency
// keys. A key must outlive every resend of its request: once it is
// swept, a resend books again. Evento's own clients resend for at most
// their --retry-budget (30 s by default) and a server answers within
// --query-timeout, so ten minutes leaves a wide margin for them, and for
// other clients that retry for minutes; Stripe-style APIs keep keys 24 h,
// which stays the default.
const minKeepKeys = 10 * time.Minute

type serveConfig struct {
	db             databaseFlags
	addr           string
	adminAddr      string
	maxConns       int
	maxConnsAddr   int
	pool           int
	maxRooms       int
	queryTimeout   time.Duration
	raceWindow     time.Duration
	sweepEvery     time.Duration
	keepKeys       time.Duration
	batchWindow    time.Duration
	batchMax       int
	hotelAdmission int
	logLevel       slog.Level
	auth           string
	insecure       bool
	maxHeldRooms   int
	maxRoomsPer    int
	maxHoldTTL     time.Duration
	rateLimit      float64
	rateBurst      int
	holdCooldown   time.Duration
	keepHolds      time.Duration
	modes          string
	pprof          bool
	// migrateURL and transactionPooled: see their flags.
	migrateURL        string
	transactionPooled bool
	// waitForDatabase bounds how long serve waits for a database that is
	// down at start; 0 fails at once.
	waitForDatabase time.Duration
}

// defaultHotelAdmission is --hotel-admission's default: on 2 cores, with 2
// servers and 64 clients on one hot hotel, 1 per server gave atomic,
// pessimistic and optimistic their best rates, 1.6 to 2.6 times their
// rates with no limit (docs/performance.md, "Hot-row admission").
const defaultHotelAdmission = 1

func newServeCommand() *ffcli.Command {
	var cfg serveConfig
	fs := flag.NewFlagSet("evento serve", flag.ContinueOnError)
	cfg.db.register(fs)
	fs.Lookup("database-url").Usage = "PostgreSQL URL (env DATABASE_URL); required, unless --embedded or --db-dir asks for a PostgreSQL of serve's own"
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "listen address (port 0 picks a free one)")
	fs.StringVar(&cfg.adminAddr, "admin-addr", "127.0.0.1:0", "listen address of GET /metrics and /healthz, for operators only (port 0 picks a free one)")
	fs.IntVar(&cfg.maxConns, "max-conns", defaultMaxConns, "most client connections open at once; when all are taken, the one idle longest is closed to make room, and if none is idle more wait until one closes")
	fs.IntVar(&cfg.maxConnsAddr, "max-conns-per-addr", 0, "most client connections open at once from one remote address (an IPv4 address or an IPv6 /64); more are closed at once (0: a quarter of --max-conns; behind a proxy, every client has its address: set it to --max-conns)")
	fs.IntVar(&cfg.pool, "pool", db.DefaultServerPool, "maximum database connections of this server")
	fs.IntVar(&cfg.maxRooms, "max-rooms", 5, "most rooms one request may reserve")
	fs.DurationVar(&cfg.queryTimeout, "query-timeout", 5*time.Second, "time a request may spend in the database before 503")
	fs.DurationVar(&cfg.raceWindow, "race-window", 0, "demo: delay every booking write by this long, so races show on every run")
	fs.DurationVar(&cfg.batchWindow, "batch-window", 0, "batched strategy: let a batch wait this long for company (0: book as soon as the previous batch commits)")
	fs.IntVar(&cfg.hotelAdmission, "hotel-admission", defaultHotelAdmission, "most bookings and holds per hotel this server lets into PostgreSQL at once, for the strategies whose bookings queue on the hotel's row (atomic, pessimistic, optimistic, serializable, advisory); the rest wait in the server, until their turn or --query-timeout (0: no limit)")
	fs.IntVar(&cfg.batchMax, "batch-max", 256, "batched strategy: most requests in one batch")
	fs.DurationVar(&cfg.sweepEvery, "sweep-every", time.Second, "how often this server expires overdue holds and deletes old holds and idempotency keys")
	fs.DurationVar(&cfg.keepKeys, "keep-idempotency-keys", 24*time.Hour, "how long an Idempotency-Key's outcome is replayed (at least 10m)")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.StringVar(&cfg.auth, "auth", api.AuthNone, "how clients are known: none (everyone is one anonymous client; loopback only unless --insecure) or keys (Authorization: Bearer KEY from evento clients add)")
	fs.BoolVar(&cfg.insecure, "insecure", false, "allow --auth none on an address other than loopback")
	fs.IntVar(&cfg.maxHeldRooms, "max-held-rooms", api.DefaultMaxHeldRooms, "most rooms one client holds at once, over every hotel (a client's own limit from evento clients add overrides it; 0: no cap)")
	fs.IntVar(&cfg.maxRoomsPer, "max-rooms-per-client", api.DefaultMaxRoomsPerClient, "most rooms one client may have at one event, booked or held, over its hotels (a client's own --max-rooms-per-event from evento clients add overrides it; 0: no limit; never limits --auth none's anonymous client)")
	fs.DurationVar(&cfg.maxHoldTTL, "max-hold-ttl", api.DefaultMaxHoldTTL, "longest hold a client may ask for (ttl_seconds)")
	fs.Float64Var(&cfg.rateLimit, "rate-limit", 0, "requests a second each client may send, past its --rate-burst; more answer 429 rate_limited with Retry-After; per server (0: no limit; under --auth none every request is one anonymous client, so set it only to cap the whole server)")
	fs.IntVar(&cfg.rateBurst, "rate-burst", 0, "requests a client may send at once before --rate-limit applies (0: --rate-limit rounded up)")
	fs.DurationVar(&cfg.holdCooldown, "hold-cooldown", api.DefaultHoldCooldown, "how long after a client's hold at a hotel ended (released or expired) it may not hold there again, so that release and re-hold cannot keep rooms for ever (0: none)")
	fs.DurationVar(&cfg.keepHolds, "keep-holds", db.DefaultKeepHolds, "how long a released or expired hold is kept (answering GET and confirm) before the sweeper deletes it; at least --hold-cooldown")
	fs.BoolVar(&cfg.pprof, "pprof", false, "also serve Go's profiler (net/http/pprof) under /debug/pprof/ on the admin listener")
	fs.StringVar(&cfg.modes, "modes", safeModes(), `reserve modes to serve: "all" (naive too, which overbooks on purpose) or a comma-separated list; others answer 403 mode_disabled`)
	fs.Var(&secretURL{&cfg.migrateURL}, "migrate-url", "apply migrations over this direct PostgreSQL URL (env EVENTO_MIGRATE_URL) rather than DATABASE_URL; needed when DATABASE_URL goes through PgBouncer in transaction mode, which goose's session lock cannot cross")
	secretFileVar(fs, &cfg.migrateURL, "migrate-url", "the --migrate-url")
	fs.BoolVar(&cfg.transactionPooled, "transaction-pooled", false, "DATABASE_URL goes through a transaction-pooling PgBouncer (pool_mode = transaction): no named prepared statements (pgx exec mode), READ COMMITTED checked on the server rather than set at login; needs --migrate-url")
	fs.DurationVar(&cfg.waitForDatabase, "wait-for-database", 60*time.Second, "how long to wait, retrying with backoff, for a database that is down at start (nothing answers, or it is starting up or shutting down); a refused login fails at once; 0: fail at once")
	return &ffcli.Command{
		Name:       "serve",
		ShortUsage: "evento serve [--addr 127.0.0.1:8080] [--pool N] [--modes all|a,b,...]",
		ShortHelp:  "Serve the reservation API.",
		FlagSet:    fs,
		Exec:       noArgs(func(ctx context.Context) error { return serve(ctx, cfg) }),
	}
}

func serve(ctx context.Context, cfg serveConfig) error {
	if cfg.pool < 1 || cfg.maxRooms < 1 || cfg.maxRooms > maxRoomsPerRequest || cfg.sweepEvery <= 0 || cfg.batchMax < 1 || cfg.batchWindow < 0 {
		return usagef("--pool must be at least 1, --max-rooms between 1 and %d, --sweep-every positive, --batch-max at least 1", maxRoomsPerRequest)
	}
	if cfg.keepKeys < minKeepKeys {
		return usagef("--keep-idempotency-keys %s: a key must outlive every resend of its request, or a late resend books again; at least %s", cfg.keepKeys, minKeepKeys)
	}
	if cfg.maxConns < 1 {
		return usagef("--max-conns must be at least 1")
	}
	if cfg.hotelAdmission < 0 {
		return usagef("--hotel-admission %d: want 0 (no limit) or more", cfg.hotelAdmission)
	}
	if cfg.maxConnsAddr < 0 || cfg.maxConnsAddr > cfg.maxConns {
		return usagef("--max-conns-per-addr must be from 1 to --max-conns (%d), or 0 for a quarter of it; got %d", cfg.maxConns, cfg.maxConnsAddr)
	}
	if cfg.maxConnsAddr == 0 {
		cfg.maxConnsAddr = max(1, cfg.maxConns/4)
	}
	if cfg.waitForDatabase < 0 {
		return usagef("--wait-for-database must be 0 (fail at once) or more, got %s", cfg.waitForDatabase)
	}
	if adminHost, _, err := net.SplitHostPort(cfg.adminAddr); err != nil {
		return badAddr("--admin-addr", cfg.adminAddr)
	} else if !isLoopback(adminHost) && !cfg.insecure {
		// The admin port has no authentication: metrics, and with --pprof
		// the profiler, are for this machine's operators.
		return usagef("--admin-addr %s would serve /metrics (and --pprof) to the network without authentication: keep it on loopback, or give --insecure", cfg.adminAddr)
	}
	host, _, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return badAddr("--addr", cfg.addr)
	}
	switch {
	case cfg.auth != api.AuthNone && cfg.auth != api.AuthKeys:
		return usagef("--auth must be none or keys, got %q", cfg.auth)
	case cfg.auth == api.AuthNone && !isLoopback(host) && !cfg.insecure:
		return usagef("--auth none on %s would let anyone on the network book and hold as one anonymous client: use --auth keys, or --insecure if that is what you want", cfg.addr)
	case cfg.maxHeldRooms < 0:
		return usagef("--max-held-rooms must be 0 (no cap) or more, got %d", cfg.maxHeldRooms)
	case cfg.maxRoomsPer < 0 || cfg.maxRoomsPer > math.MaxInt32:
		return usagef("--max-rooms-per-client must be from 0 (no limit) to %d, got %d", math.MaxInt32, cfg.maxRoomsPer)
	case cfg.maxHoldTTL < time.Second:
		return usagef("--max-hold-ttl must be at least 1s, got %s", cfg.maxHoldTTL)
	case cfg.rateLimit < 0 || math.IsNaN(cfg.rateLimit):
		return usagef("--rate-limit must be 0 (no limit) or a positive number of requests a second, got %g", cfg.rateLimit)
	case cfg.rateBurst < 0:
		return usagef("--rate-burst must be 0 (--rate-limit rounded up) or more, got %d", cfg.rateBurst)
	case cfg.rateBurst > 0 && cfg.rateLimit == 0:
		return usagef("--rate-burst needs --rate-limit: without a limit there is no burst to size")
	case cfg.holdCooldown < 0:
		return usagef("--hold-cooldown must be 0 (none) or more, got %s", cfg.holdCooldown)
	case cfg.keepHolds < max(cfg.holdCooldown, time.Minute):
		// A hold's end starts its client's cooldown: deleted sooner, it
		// would be forgotten.
		return usagef("--keep-holds must be at least --hold-cooldown (%s) and 1m, got %s", cfg.holdCooldown, cfg.keepHolds)
	}
	if cfg.transactionPooled && cfg.migrateURL == "" {
		return usagef("--transaction-pooled needs --migrate-url: migrations hold a session-level lock, which a transaction pooler would hand to another client's transactions")
	}
	maxHeld := int32(cfg.maxHeldRooms)
	if maxHeld == 0 {
		maxHeld = -1 // api.Options: negative is no cap
	}
	maxPerEvent := int32(cfg.maxRoomsPer)
	if maxPerEvent == 0 {
		maxPerEvent = -1 // likewise: no limit
	}
	modes, err := parseNames(cfg.modes, func(name string) error {
		return usagef("--modes: unknown mode %q; allowed: all, or a comma-separated list of %s", name, db.StrategyNames())
	})
	if err != nil {
		return err
	}
	if cfg.db.url == "" && !cfg.db.embedded && cfg.db.dir == "" {
		// A server takes real bookings: into a database deleted on exit
		// only when asked to.
		return usagef("serve: no database: set DATABASE_URL (or --database-url-file) to your PostgreSQL, or pass --embedded for a throwaway one deleted on exit (--db-dir DIR keeps it)")
	}
	// --db-dir names the cluster to serve from, not a fallback behind
	// localhost:5432.
	cfg.db.embedded = cfg.db.embedded || cfg.db.url == ""
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	// The ports first: a taken one fails in a moment, not after starting
	// and stopping a throwaway PostgreSQL for nothing. serveUntil closes
	// them; the deferred closes cover the errors before it.
	listener, err := listen(cfg.addr, cfg.maxConns, cfg.maxConnsAddr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--addr %s is taken (another evento serve?); choose another port, or port 0 for a free one", cfg.addr)
	}
	if err != nil {
		return err
	}
	defer listener.Close()
	adminListener, err := listen(cfg.adminAddr, maxAdminConns, maxAdminConns)
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--admin-addr %s is taken; choose another port, or port 0 for a free one", cfg.adminAddr)
	}
	if err != nil {
		return err
	}
	defer adminListener.Close()
	database, err := resolveWaiting(ctx, cfg.db, cfg.pool+10, cfg.waitForDatabase, log)
	if err != nil {
		return err
	}
	defer database.Close()
	if database.Embedded {
		// Another shell's `evento seed` or `evento clients add` would
		// otherwise start a throwaway database of its own, which this
		// server never reads. The URL holds the cluster's password: the
		// line names a file only this user may read, never the URL.
		file, err := database.Server.WriteURLFile(database.URL)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "export DATABASE_URL=\"$(cat %s)\"  # in another shell, for evento seed and clients to use this server's database while it runs\n", shellQuote(file))
	}
	if err := migrateServed(ctx, database.URL, cfg.transactionPooled, cfg.migrateURL); err != nil {
		return err
	}
	pool, err := db.OpenPoolWith(ctx, database.URL, db.PoolOptions{MaxConns: int32(cfg.pool), TransactionPooled: cfg.transactionPooled, QueryTimeout: cfg.queryTimeout})
	if err != nil {
		return err
	}
	defer pool.Close()

	metrics := api.NewMetrics(db.PoolCollector(pool))
	store := db.NewStore(pool, db.Options{
		RaceWindow: cfg.raceWindow, OnRetry: metrics.Rerun, HotelAdmission: cfg.hotelAdmission,
		Batches: db.BatchOptions{Window: cfg.batchWindow, MaxSize: cfg.batchMax, Timeout: cfg.queryTimeout, OnBatch: metrics.BatchBooked},
	})
	sweeperCtx, stopSweeper := context.WithCancel(context.WithoutCancel(ctx))
	var sweeper sync.WaitGroup
	sweeper.Go(func() {
		db.Sweeper{Store: store, Interval: cfg.sweepEvery, KeepHolds: cfg.keepHolds, Log: log}.Run(sweeperCtx)
	})
	defer func() { stopSweeper(); sweeper.Wait() }()

	handler := api.NewServer(store, api.Options{
		MaxRooms: int32(cfg.maxRooms), QueryTimeout: cfg.queryTimeout,
		KeepIdempotencyKeys: cfg.keepKeys, Metrics: metrics, Log: log, Modes: modes,
		Auth: cfg.auth, MaxHeldRooms: maxHeld, MaxHoldTTL: cfg.maxHoldTTL, HoldCooldown: cfg.holdCooldown,
		RateLimit: cfg.rateLimit, RateBurst: cfg.rateBurst, MaxRoomsPerClient: maxPerEvent,
	})
	server := newHTTPServer(handler, cfg.queryTimeout+5*time.Second, log)
	server.ConnState = listener.Track
	adminHandler := handler.AdminHandler()
	if cfg.pprof {
		adminHandler = withPprof(adminHandler)
	}
	// Its write timeout bounds a profile: ask for ?seconds= below it.
	admin := newHTTPServer(adminHandler, cfg.queryTimeout+5*time.Second, log)
	admin.ConnState = adminListener.Track
	// The first two lines on stdout are the addresses, so a parent process
	// that asked for port 0 learns which ones it got.
	fmt.Printf("evento: serving on http://%s\n", listener.Addr())
	fmt.Printf("evento: admin on http://%s\n", adminListener.Addr())
	log.Info("serving", "addr", listener.Addr().String(), "admin_addr", adminListener.Addr().String(), "pool", cfg.pool,
		"modes", strings.Join(modes, ","), "auth", cfg.auth, "max_held_rooms", cfg.maxHeldRooms, "max_rooms_per_client", cfg.maxRoomsPer,
		"rate_limit", cfg.rateLimit, "transaction_pooled", cfg.transactionPooled)

	if err := serveUntil(ctx, []*http.Server{server, admin}, []net.Listener{listener, adminListener}); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// Backoff between attempts to reach a database that is down at start:
// doubling from the first, capped, so that a long outage costs a few
// attempts a minute and a short one (a restart) is noticed within a second.
const (
	firstDatabaseBackoff = 250 * time.Millisecond
	maxDatabaseBackoff   = 5 * time.Second
)

// resolveWaiting is databaseFlags.resolve for a server: a database that is
// down at start (localpg.Unavailable) is tried again, with backoff, for up
// to wait, one log line per failed attempt, so that a server restarted
// during an outage comes up when the database does rather than exiting
// and staying down. A refused login, a bad URL or anything else fails at
// once: waiting would not fix it. The logged error names the host and port
// and the server's reason, never the password (localpg's errors hold none).
func resolveWaiting(ctx context.Context, d databaseFlags, maxConns int, wait time.Duration, log *slog.Logger) (*localpg.Resolved, error) {
	deadline := time.Now().Add(wait)
	backoff := firstDatabaseBackoff
	for attempt := 1; ; attempt++ {
		database, err := d.resolve(ctx, maxConns)
		if err == nil || !localpg.Unavailable(err) || ctx.Err() != nil {
			return database, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			if wait > 0 {
				return nil, fmt.Errorf("%w; gave up after %d attempts in %s (--wait-for-database)", err, attempt, wait)
			}
			return nil, err
		}
		sleep := min(backoff, left)
		log.Warn("database unavailable; retrying", "attempt", attempt, "backoff", sleep.Round(time.Millisecond), "gives_up_in", left.Round(time.Millisecond), "err", err.Error())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(sleep):
		}
		backoff = min(2*backoff, maxDatabaseBackoff)
	}
}

// migrateServed applies the migrations over a connection of its own to
// url, or to migrateURL when one is given, which it closes at once: a
// server needs no such connection once the schema is up.
func migrateServed(ctx context.Context, url string, transactionPooled bool, migrateURL string) error {
	// On a connection of its own, not the serving pool: a migration may
	// take longer, or wait for a lock longer, than the bounds that pool
	// sets on every request (PoolOptions.QueryTimeout).
	opts := db.PoolOptions{MaxConns: 1, TransactionPooled: transactionPooled}
	if migrateURL != "" {
		url, opts = migrateURL, db.PoolOptions{MaxConns: 1}
	}
	pool, err := db.OpenPoolWith(ctx, url, opts)
	if err != nil {
		if migrateURL != "" {
			err = fmt.Errorf("--migrate-url: %w", err)
		}
		return err
	}
	defer pool.Close()
	err = db.Migrate(ctx, pool)
	if err != nil && migrateURL != "" {
		err = fmt.Errorf("migrate over --migrate-url: %w", err)
	}
	return err
}

// shellQuote quotes s for a POSIX shell: single quotes keep everything
// literal (a URL's & and ? included), and a single quote itself is closed,
// escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isLoopback reports whether a listen host reaches only this machine; an
// empty host is every interface.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// badAddr refuses a listen address that is not host:port, saying what is
// (Go's own "missing port in address" does not say what to write).
func badAddr(flag, value string) error {
	return usagef("%s %q: want HOST:PORT, such as 127.0.0.1:8080, or :8080 for every address (port 0 picks a free one)", flag, value)
}
