package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
	"github.com/evento-lab/evento/db/localpg"
	"github.com/evento-lab/evento/load"
)

type benchConfig struct {
	db         databaseFlags
	clients    string
	strategies string
	rounds     int
	duration   time.Duration
	servers    int
	pool       int
	out        string
	skipChecks bool
}

func newBenchCommand() *ffcli.Command {
	var cfg benchConfig
	fs := flag.NewFlagSet("evento bench", flag.ContinueOnError)
	cfg.db.register(fs)
	fs.StringVar(&cfg.clients, "clients", "1,8,32,64", "client counts to measure")
	fs.StringVar(&cfg.strategies, "strategies", "atomic,pessimistic,batched", "Evento strategies to measure against pgbench")
	fs.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds per measurement; the median is reported")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "length of one measurement (whole seconds)")
	fs.IntVar(&cfg.servers, "servers", 2, "Evento server processes")
	fs.IntVar(&cfg.pool, "pool", 32, "database connections of each server")
	fs.StringVar(&cfg.out, "out", "", "write bench.json into this directory")
	fs.BoolVar(&cfg.skipChecks, "skip-checks", true, "Evento's clients book without an availability check before each booking, as pgbench does")
	return &ffcli.Command{
		Name:       "bench",
		ShortUsage: "evento bench [--clients 1,8,32,64] [--strategies atomic,pessimistic,batched] [--rounds 3] [--duration 5s]",
		ShortHelp:  "Measure the hot row: pgbench running atomic.sql's statement, then Evento over HTTP, interleaved.",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("EVENTO")},
		Exec:       noArgs(func(ctx context.Context) error { return runBench(ctx, cfg) }),
	}
}

// benchRow is one client count: medians of reservations per second.
type benchRow struct {
	Clients int                  `json:"clients"`
	Pgbench float64              `json:"pgbench"`
	Evento  map[string]float64   `json:"evento"`
	Ratios  map[string]float64   `json:"ratio_to_pgbench"`
	Samples map[string][]float64 `json:"samples"`
}

// hotRooms is more than any measurement can book: the hotel never sells
// out, so every run measures the hot row under steady contention.
const hotRooms = 1_000_000_000

func runBench(ctx context.Context, cfg benchConfig) error {
	counts, err := parseCounts(cfg.clients)
	if err != nil {
		return err
	}
	strategies, err := parseStrategies(cfg.strategies)
	if err != nil {
		return err
	}
	if cfg.rounds < 1 || cfg.duration < time.Second || cfg.duration%time.Second != 0 {
		return usagef("--rounds must be at least 1, --duration whole seconds")
	}
	binDir, err := localpg.FindBinDir()
	if err != nil {
		return err
	}
	pgbench := filepath.Join(binDir, "pgbench")

	run := runConfig{db: cfg.db, servers: cfg.servers, pool: cfg.pool, rooms: hotRooms, hotels: 1, events: 1}
	run.load = loadFlags{strategy: strategies[0], clients: 1, think: "0", timeout: cfg.duration, requestTimeout: 10 * time.Second,
		conns: 256, maxRooms: 5, holdTTL: 5 * time.Second, json: true, seed: 1, skipChecks: cfg.skipChecks, noIdempotency: true}
	think, err := run.validate()
	if err != nil {
		return err
	}
	run.db.embeddedMaxConns = slices.Max(counts) + 10
	l, err := openLab(ctx, run)
	if err != nil {
		return err
	}
	defer l.close()

	hot, err := db.Seed(ctx, l.pool, db.SeedSpec{Name: "pgbench hot row", Hotels: 1, Rooms: hotRooms})
	if err != nil {
		return err
	}
	script := filepath.Join(os.TempDir(), fmt.Sprintf("evento-atomic-%d.pgbench", os.Getpid()))
	pgbenchScript, err := db.AtomicBookPgbenchScript()
	if err != nil {
		return err
	}
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o644); err != nil {
		return fmt.Errorf("write pgbench script: %w", err)
	}
	defer os.Remove(script)

	var rows []benchRow
	for _, clients := range counts {
		row := benchRow{Clients: clients, Evento: map[string]float64{}, Ratios: map[string]float64{}, Samples: map[string][]float64{}}
		for round := 1; round <= cfg.rounds; round++ {
			fmt.Fprintf(os.Stderr, "evento: %d clients, round %d of %d\n", clients, round, cfg.rounds)
			tps, err := runPgbench(ctx, pgbench, l.database.URL, script, hot, clients, cfg.duration)
			if err != nil {
				return err
			}
			row.Samples["pgbench"] = append(row.Samples["pgbench"], tps)
			for _, s := range strategies {
				run.load.clients = clients
				report, err := l.experiment(ctx, run, s, think)
				if err != nil {
					return err
				}
				if report.Verdict == load.Overbooked || report.Verdict == load.Inconsistent {
					return fmt.Errorf("%s at %d clients: verdict %s: %v", s, clients, report.Verdict, report.Anomalies)
				}
				row.Samples[s] = append(row.Samples[s], float64(report.Requests.Success)/report.ElapsedSeconds)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		row.Pgbench = median(row.Samples["pgbench"])
		for _, s := range strategies {
			row.Evento[s] = median(row.Samples[s])
			if row.Pgbench > 0 {
				row.Ratios[s] = row.Evento[s] / row.Pgbench
			}
		}
		rows = append(rows, row)
	}
	if err := checkHotRow(ctx, l, hot.EventID); err != nil {
		return err
	}
	printBench(rows, strategies, cfg)
	if cfg.out != "" {
		encoded, _ := json.MarshalIndent(rows, "", "  ")
		if err := os.MkdirAll(cfg.out, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(cfg.out, "bench.json"), append(encoded, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// runPgbench runs the atomic statement on the hot row and returns its
// transactions (reservations) per second.
func runPgbench(ctx context.Context, pgbench, url, script string, hot db.SeededEvent, clients int, d time.Duration) (float64, error) {
	args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(min(clients, 2)),
		"-T", strconv.Itoa(int(d / time.Second)), "-f", script,
		"-D", "name=pgbench", "-D", fmt.Sprintf("event_id=%d", hot.EventID), "-D", fmt.Sprintf("hotel_id=%d", hot.Hotels[0].HotelID),
		url}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, pgbench, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("pgbench: %w: %s", err, out.String())
	}
	m := tpsLine.FindStringSubmatch(out.String())
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps: %s", out.String())
	}
	return strconv.ParseFloat(m[1], 64)
}

// checkHotRow verifies that pgbench, too, left a consistent hotel.
func checkHotRow(ctx context.Context, l *lab, eventID int64) error {
	records, err := db.EventRecords(ctx, l.pool, []int64{eventID})
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

func printBench(rows []benchRow, strategies []string, cfg benchConfig) {
	fmt.Printf("reservations/s on one hot row, median of %d interleaved %s runs; Evento: %d servers over HTTP, think 0\n\n",
		cfg.rounds, cfg.duration, cfg.servers)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "clients\tpgbench\t"
	for _, s := range strategies {
		header += s + "\tvs pgbench\t"
	}
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		line := fmt.Sprintf("%d\t%.0f\t", r.Clients, r.Pgbench)
		for _, s := range strategies {
			line += fmt.Sprintf("%.0f\t%.2fx\t", r.Evento[s], r.Ratios[s])
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
}

func parseCounts(list string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("--clients takes positive integers, got %q", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
