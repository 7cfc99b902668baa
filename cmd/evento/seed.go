package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db/labdb"
)

type seedConfig struct {
	db     databaseFlags
	events int
	hotels int
	rooms  int
	name   string
	json   bool
}

func newSeedCommand() *ffcli.Command {
	var cfg seedConfig
	fs := flag.NewFlagSet("evento seed", flag.ContinueOnError)
	cfg.db.register(fs)
	fs.IntVar(&cfg.events, "events", 1, "events to create")
	fs.IntVar(&cfg.hotels, "hotels", 3, "hotels per event")
	fs.IntVar(&cfg.rooms, "rooms", 200, "rooms per hotel")
	fs.StringVar(&cfg.name, "name", "", "event name (default: a timestamp)")
	fs.BoolVar(&cfg.json, "json", false, "print each event as one JSON object per line")
	return &ffcli.Command{
		Name:       "seed",
		ShortUsage: "evento seed [--events E] [--hotels H] [--rooms R] [--json]",
		ShortHelp:  "Create new events with hotels and rooms (never deletes data).",
		FlagSet:    fs,
		Options:    []ff.Option{ff.WithEnvVarPrefix("EVENTO")},
		Exec:       noArgs(func(ctx context.Context) error { return seed(ctx, cfg) }),
	}
}

func seed(ctx context.Context, cfg seedConfig) error {
	if cfg.events < 1 || cfg.hotels < 1 || cfg.rooms < 0 || cfg.rooms > maxRooms {
		return usagef("--events and --hotels must be at least 1, --rooms between 0 and %d", maxRooms)
	}
	pool, closeDB, err := openMigrated(ctx, cfg.db)
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
		event, err := labdb.Seed(ctx, pool, labdb.SeedSpec{Name: eventName, Hotels: cfg.hotels, Rooms: int32(cfg.rooms)})
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
			fmt.Printf("  hotel %d %q: %d %s\n", h.HotelID, h.Name, h.Rooms, noun)
		}
	}
	return nil
}
