package lab

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evento-lab/evento/db/labdb"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/lab/checker"
	"github.com/evento-lab/evento/lab/client"
	"github.com/evento-lab/evento/lab/cluster"
	"github.com/evento-lab/evento/lab/report"
)

// BenchConfig describes evento bench.
type BenchConfig struct {
	Database cluster.Resolver
	Clients  []int // client counts to measure
	// Strategies are the Evento strategies to measure against pgbench; a
	// name with RouteSeparator and a route ("batched@hotel") has its
	// clients routed so; a name ending in KeyedSuffix ("atomic+keys") is
	// that strategy with an idempotency key on every booking, as the
	// simulator's clients send by default: against the same name without
	// the suffix it prices exactly-once.
	Strategies []string
	Rounds     int // interleaved rounds per measurement; the median is reported
	Duration   time.Duration
	Servers    int  // Evento server processes
	Pool       int  // database connections of each server
	SkipChecks bool // Evento's clients book without an availability check first, as pgbench does
	Log        io.Writer
}

// KeyedSuffix marks a bench strategy measured with idempotency keys.
const KeyedSuffix = report.KeyedSuffix

// PgbenchKeyed names pgbench's runs of the keyed fast path's statement.
const PgbenchKeyed = report.PgbenchKeyed

// writePgbenchScript writes one of labdb's pgbench scripts to a temporary
// file and returns its path.
func writePgbenchScript(name string, script func() (string, error)) (string, error) {
	text, err := script()
	if err != nil {
		return "", err
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("evento-%s-%d.pgbench", name, os.Getpid()))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("write pgbench script: %w", err)
	}
	return path, nil
}

// BucketsSeparator ends a bench strategy that books buckets with the count
// of its hot hotel's buckets: "sharded/16".
const BucketsSeparator = "/"

// RouteSeparator ends a bench strategy whose clients spread their requests
// over the servers by a route other than round-robin, before any
// KeyedSuffix: "batched@hotel+keys" (client.Route).
const RouteSeparator = "@"

// benchMode reads a bench strategy's label, NAME[/K][@ROUTE][+keys]: the
// strategy, its hot hotel's buckets (0: not given), its clients' route
// ("": round-robin) and whether its bookings carry keys.
func benchMode(label string) (mode string, buckets int, route client.Route, keyed bool) {
	mode, keyed = strings.CutSuffix(label, KeyedSuffix)
	mode, r, _ := strings.Cut(mode, RouteSeparator)
	mode, k, split := strings.Cut(mode, BucketsSeparator)
	if split {
		buckets, _ = strconv.Atoi(k)
	}
	return mode, buckets, client.Route(r), keyed
}

// hotRooms is more than any measurement can book: the hotel never sells
// out, so every run measures the hot row under steady contention.
const hotRooms = 1_000_000_000

// Bench measures one hot hotel row: pgbench running atomic.sql's very
// statement, then Evento's strategies over HTTP at the same client counts,
// interleaved round by round on one durable database. A strategy that
// overbooks stops the benchmark.
func Bench(ctx context.Context, cfg BenchConfig) (report.Bench, error) {
	binDir, err := localpg.FindBinDir()
	if err != nil {
		return report.Bench{}, err
	}
	pgbench := filepath.Join(binDir, "pgbench")
	log := cmp.Or[io.Writer](cfg.Log, io.Discard)

	l, err := Open(ctx, Config{
		Database: cfg.Database, Servers: cfg.Servers, Pool: cfg.Pool, Modes: benchModes(cfg.Strategies), Events: 1, Hotels: 1, Rooms: hotRooms,
		Clients: client.Config{Clients: 1, Seed: 1, MaxRooms: 5, RequestTimeout: 10 * time.Second, ConnsPerServer: 256,
			HoldTTL: 5 * time.Second, SkipChecks: cfg.SkipChecks},
		Timeout:    cfg.Duration,
		ExtraConns: slices.Max(cfg.Clients) + 10,
	})
	if err != nil {
		return report.Bench{}, err
	}
	defer l.Close()
	// After the servers started: their share is of every core.
	defer useLoadProcs(cfg.Servers)()

	hot, err := labdb.Seed(ctx, l.cluster.Pool, labdb.SeedSpec{Name: "pgbench hot row", Hotels: 1, Rooms: hotRooms})
	if err != nil {
		return report.Bench{}, err
	}
	script, err := writePgbenchScript("atomic", labdb.AtomicBookPgbenchScript)
	if err != nil {
		return report.Bench{}, err
	}
	defer os.Remove(script)
	scripts := map[string]string{report.Pgbench: script}
	measurements := []string{report.Pgbench}
	// With a keyed strategy, pgbench also runs the keyed fast path's
	// statement: what exactly-once costs PostgreSQL itself, the floor of
	// what it can cost Evento.
	if slices.ContainsFunc(cfg.Strategies, func(s string) bool { return strings.HasSuffix(s, KeyedSuffix) }) {
		keyed, err := writePgbenchScript("atomic-keyed", labdb.AtomicBookKeyedPgbenchScript)
		if err != nil {
			return report.Bench{}, err
		}
		defer os.Remove(keyed)
		scripts[PgbenchKeyed] = keyed
		measurements = append(measurements, PgbenchKeyed)
	}
	measurements = append(measurements, cfg.Strategies...)
	meter, err := newCPUMeter(ctx, l.cluster)
	if err != nil {
		fmt.Fprintf(log, "evento: no CPU per booking: %v\n", err)
	}
	b := report.Bench{Rounds: cfg.Rounds, Duration: cfg.Duration, Servers: cfg.Servers, Strategies: cfg.Strategies}
	for _, clients := range cfg.Clients {
		row := report.BenchRow{Clients: clients, Evento: map[string]float64{}, Ratios: map[string]float64{},
			KeyedRatios: map[string]float64{}, Samples: map[string][]float64{}, CPU: map[string]report.BenchCPU{}}
		cpu := newCPUTally(meter)
		for round := 1; round <= cfg.Rounds; round++ {
			fmt.Fprintf(log, "evento: %d clients, round %d of %d\n", clients, round, cfg.Rounds)
			// What a run leaves behind (autovacuum after a keyed run's
			// inserts, a checkpoint) slows whichever runs next. A fixed order
			// charges it to the same measurement every round, and so does a
			// rotation (each keeps its predecessor), so the order also
			// reverses every other round.
			for _, s := range roundOrder(measurements, round) {
				var tps float64
				if script, ok := scripts[s]; ok {
					end := cpu.window(s)
					var run pgbenchRun
					if run, err = runPgbench(ctx, pgbench, l.cluster.Database.URL, script, hot, clients, cfg.Duration); err == nil {
						end(run.transactions, run.process)
						tps = run.tps
					}
				} else {
					tps, err = l.benchStrategy(ctx, s, clients, cpu)
				}
				if err != nil {
					return report.Bench{}, err
				}
				row.Samples[s] = append(row.Samples[s], tps)
			}
			if ctx.Err() != nil {
				return report.Bench{}, ctx.Err()
			}
		}
		for _, s := range measurements {
			if c, ok := cpu.perBooking(s); ok {
				row.CPU[s] = c
			}
		}
		for _, failure := range cpu.failures() {
			fmt.Fprintf(log, "evento: no CPU per booking for %s\n", failure)
		}
		row.Pgbench = report.Median(row.Samples[report.Pgbench])
		if scripts[PgbenchKeyed] != "" {
			row.PgbenchKeyed = report.Median(row.Samples[PgbenchKeyed])
		}
		for _, s := range cfg.Strategies {
			row.Evento[s] = report.Median(row.Samples[s])
			if row.Pgbench > 0 {
				row.Ratios[s] = row.Evento[s] / row.Pgbench
			}
		}
		for _, s := range cfg.Strategies {
			if mode, keyed := strings.CutSuffix(s, KeyedSuffix); keyed && row.Evento[mode] > 0 {
				row.KeyedRatios[mode] = row.Evento[s] / row.Evento[mode]
			}
		}
		b.Rows = append(b.Rows, row)
	}
	if err := checkHotRow(ctx, l, hot.EventID); err != nil {
		return report.Bench{}, err
	}
	return b, nil
}

// benchStrategy runs one bench strategy (a label such as "sharded/16+keys")
// with clients clients and returns its reservations per second; cpu
// measures the clients' run. A run that overbooked or is inconsistent
// stops the benchmark.
func (l *Lab) benchStrategy(ctx context.Context, label string, clients int, cpu *cpuTally) (float64, error) {
	mode, buckets, route, keyed := benchMode(label)
	l.cfg.Clients.Clients, l.cfg.Clients.Idempotency, l.cfg.Clients.Route, l.cfg.Buckets = clients, keyed, route, buckets
	l.clientsRun = func() func(client.Result) {
		end := cpu.window(label)
		return func(r client.Result) { end(r.Requests.Success, nil) }
	}
	defer func() { l.clientsRun = nil }()
	r, err := l.Experiment(ctx, mode)
	if err != nil {
		return 0, err
	}
	if r.Verdict == checker.Overbooked || r.Verdict == checker.Inconsistent {
		return 0, fmt.Errorf("%s at %d clients: verdict %s: %v", label, clients, r.Verdict, r.Anomalies)
	}
	return float64(r.Requests.Success) / r.ElapsedSeconds, nil
}

// roundOrder is the order of round (from 1): values rotated to start
// round-1 places along, and reversed in even rounds, so that each
// measurement follows a different one from round to round.
func roundOrder(values []string, round int) []string {
	by := (round - 1) % len(values)
	order := slices.Concat(values[by:], values[:by])
	if round%2 == 0 {
		slices.Reverse(order)
	}
	return order
}

// benchModes are the strategies the servers must serve for strategies.
func benchModes(strategies []string) []string {
	var modes []string
	for _, s := range strategies {
		if mode, _, _, _ := benchMode(s); !slices.Contains(modes, mode) {
			modes = append(modes, mode)
		}
	}
	return modes
}

var (
	tpsLine          = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	transactionsLine = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)
)

// pgbenchRun is what one pgbench run did: its transactions (reservations)
// per second and in all, and its process, which says what CPU it used.
type pgbenchRun struct {
	tps          float64
	transactions int64
	process      *os.ProcessState
}

// runPgbench runs the atomic statement on the hot row.
func runPgbench(ctx context.Context, pgbench, url, script string, hot labdb.SeededEvent, clients int, d time.Duration) (pgbenchRun, error) {
	url, password := splitPassword(url)
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)),
		"-T", strconv.Itoa(int(d / time.Second)), "-f", script,
		"-D", "name=pgbench", "-D", "fingerprint=pgbench", "-D", fmt.Sprintf("event_id=%d", hot.EventID), "-D", fmt.Sprintf("hotel_id=%d", hot.Hotels[0].HotelID),
		url}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, pgbench, args...)
	// The password goes in the environment, not on the command line
	// that ps shows to every user.
	cmd.Env = os.Environ()
	if password != "" {
		cmd.Env = append(cmd.Env, "PGPASSWORD="+password)
	}
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return pgbenchRun{}, fmt.Errorf("pgbench: %w: %s", err, out.String())
	}
	run, err := parsePgbench(out.String())
	run.process = cmd.ProcessState
	return run, err
}

// splitPassword is a database URL without its password, and the password.
func splitPassword(raw string) (url, password string) {
	u, err := neturl.Parse(raw)
	if err != nil || u.User == nil {
		return raw, ""
	}
	password, _ = u.User.Password()
	u.User = neturl.User(u.User.Username())
	return u.String(), password
}

// parsePgbench reads the transactions per second, and in all, that
// pgbench printed.
func parsePgbench(out string) (pgbenchRun, error) {
	tps, transactions := tpsLine.FindStringSubmatch(out), transactionsLine.FindStringSubmatch(out)
	if tps == nil || transactions == nil {
		return pgbenchRun{}, fmt.Errorf("pgbench printed no tps or no transactions processed: %s", out)
	}
	var run pgbenchRun
	var err error
	if run.tps, err = strconv.ParseFloat(tps[1], 64); err != nil {
		return pgbenchRun{}, fmt.Errorf("pgbench's tps: %w", err)
	}
	if run.transactions, err = strconv.ParseInt(transactions[1], 10, 64); err != nil {
		return pgbenchRun{}, fmt.Errorf("pgbench's transactions: %w", err)
	}
	return run, nil
}

// checkHotRow verifies that pgbench, too, left a consistent hotel.
func checkHotRow(ctx context.Context, l *Lab, eventID int64) error {
	records, err := labdb.EventRecords(ctx, l.cluster.Pool, []int64{eventID})
	if err != nil {
		return err
	}
	for _, r := range records {
		if r.Booked != r.Reserved || r.Booked > r.Assigned {
			return fmt.Errorf("pgbench's hot row: counter %d, rows %d, assigned %d", r.Reserved, r.Booked, r.Assigned)
		}
	}
	return nil
}
