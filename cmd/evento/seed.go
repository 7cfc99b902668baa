package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db/labdb"
)

type seedConfig struct {
	db      databaseFlags
	events  int
	hotels  int
	rooms   int
	buckets int
	name    string
	json    bool
}

func newSeedCommand() *ffcli.Command {
	var cfg seedConfig
	fs := flag.NewFlagSet("evento seed", flag.ContinueOnError)
	cfg.db.register(fs)
	fs.IntVar(&cfg.events, "events", 1, "events to create")
	fs.IntVar(&cfg.hotels, "hotels", 3, "hotels per event")
	fs.IntVar(&cfg.rooms, "rooms", 200, "rooms per hotel")
	fs.IntVar(&cfg.buckets, "buckets", 0, "split each hotel's rooms into this many bucket rows, which only mode sharded books (0: not split)")
	fs.StringVar(&cfg.name, "name", "", "event name (default: a timestamp)")
	fs.BoolVar(&cfg.json, "json", false, "print each event as one JSON object per line")
	return &ffcli.Command{
		Name:       "seed",
		ShortUsage: "evento seed [--events E] [--hotels H] [--rooms R] [--buckets K] [--json]",
		ShortHelp:  "Create new events with hotels and rooms (never deletes data).",
		FlagSet:    fs,
		Exec:       noArgs(func(ctx context.Context) error { return seed(ctx, cfg) }),
	}
}

func seed(ctx context.Context, cfg seedConfig) error {
	if cfg.events < 1 || cfg.hotels < 1 || cfg.rooms < 0 || cfg.rooms > maxRooms {
		return usagef("--events and --hotels must be at least 1, --rooms between 0 and %d", maxRooms)
	}
	if cfg.buckets < 0 || cfg.buckets > maxBuckets {
		return usagef("--buckets must be from 0 (not split) to %d, got %d", maxBuckets, cfg.buckets)
	}
	pool, _, closeDB, err := openMigratedDatabase(ctx, cfg.db, "")
	if err != nil {
		return err
	}
	defer closeDB()
	name := cfg.name
	if name == "" {
		name = "Event " + time.Now().UTC().Format(time.RFC3339)
	}
	out := json.NewEncoder(os.Stdout)
	for i := range cfg.events {
		eventName := name
		if cfg.events > 1 {
			eventName = fmt.Sprintf("%s #%d", name, i+1)
		}
		event, err := labdb.Seed(ctx, pool, labdb.SeedSpec{Name: eventName, Hotels: cfg.hotels, Rooms: int32(cfg.rooms), Buckets: cfg.buckets})
		if err != nil {
			return err
		}
		if cfg.json {
			if err := out.Encode(event); err != nil {
				return fmt.Errorf("print event: %w", err)
			}
			continue
		}
		fmt.Printf("event %d %q\n", event.EventID, eventName)
		for _, h := range event.Hotels {
			noun := "rooms"
			if h.Rooms == 1 {
				noun = "room"
			}
			split := ""
			if h.Buckets > 0 {
				split = fmt.Sprintf(" in %d buckets (mode sharded books them)", h.Buckets)
			}
			fmt.Printf("  hotel %d %q: %d %s%s\n", h.HotelID, h.Name, h.Rooms, noun, split)
		}
	}
	return nil
}
