package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/db"
)

// clientsFlags are the flags every `evento clients` subcommand takes.
type clientsFlags struct {
	db               databaseFlags
	maxHeldRooms     int
	maxRoomsPerEvent int
	json             bool
}

func newClientsCommand() *ffcli.Command {
	c := &ffcli.Command{
		Name:       "clients",
		ShortUsage: "evento clients add|list|revoke [flags]",
		ShortHelp:  "Manage the API keys a server started with --auth keys accepts.",
		FlagSet:    flag.NewFlagSet("evento clients", flag.ContinueOnError),
		Subcommands: []*ffcli.Command{
			clientsSubcommand("add", "evento clients add NAME [--max-held-rooms N] [--max-rooms-per-event N] [--json]",
				"Add a client and print its new API key, once (only a hash of it is kept).", true, addClient),
			clientsSubcommand("list", "evento clients list [--json]",
				"List the clients, revoked ones included, with the rooms each holds now.", false, listClients),
			clientsSubcommand("revoke", "evento clients revoke NAME",
				"Revoke a client's key (every server refuses it within 5 seconds) and release its holds at once.", true, revokeClient),
		},
	}
	c.Exec = func(_ context.Context, args []string) error {
		if len(args) > 0 {
			return unknownSubcommand(c, args[0])
		}
		return usagef("evento clients needs a subcommand: add, list or revoke")
	}
	return c
}

// clientsSubcommand builds one subcommand; needsName says it takes a NAME,
// which may come before or after the flags.
func clientsSubcommand(name, usage, help string, needsName bool,
	run func(ctx context.Context, pool *pgxpool.Pool, cfg *clientsFlags, clientName string) error,
) *ffcli.Command {
	cfg := &clientsFlags{}
	fs := flag.NewFlagSet("evento clients "+name, flag.ContinueOnError)
	cfg.db.register(fs)
	if name == "add" {
		fs.IntVar(&cfg.maxHeldRooms, "max-held-rooms", 0, "this client's cap on rooms held at once (default: the server's --max-held-rooms)")
		fs.IntVar(&cfg.maxRoomsPerEvent, "max-rooms-per-event", 0, "this client's limit on rooms it may have at one event, booked or held (default: the server's --max-rooms-per-client)")
	}
	if name != "revoke" {
		fs.BoolVar(&cfg.json, "json", false, "print JSON")
	}
	return &ffcli.Command{
		Name: name, ShortUsage: usage, ShortHelp: help, FlagSet: fs,
		Exec: func(ctx context.Context, args []string) error {
			var clientName string
			if needsName {
				if len(args) == 0 {
					return usagef("%s: the client's NAME is missing", usage)
				}
				clientName = args[0]
				// Flags after the name: the flag package stops at the first
				// argument that is not one.
				if err := fs.Parse(args[1:]); err != nil {
					return usagef("%v", err)
				}
				args = fs.Args()
			}
			if len(args) > 0 {
				return usagef("unexpected argument %q", args[0])
			}
			if needsName && (clientName == "" || utf8.RuneCountInString(clientName) > 100 || !utf8.ValidString(clientName)) {
				return usagef("NAME must be 1 to 100 characters of UTF-8")
			}
			if cfg.maxHeldRooms < 0 {
				return usagef("--max-held-rooms must be at least 1, got %d", cfg.maxHeldRooms)
			}
			if cfg.maxRoomsPerEvent < 0 || cfg.maxRoomsPerEvent > math.MaxInt32 {
				return usagef("--max-rooms-per-event must be from 1 to %d (0 or none: the server's --max-rooms-per-client), got %d", math.MaxInt32, cfg.maxRoomsPerEvent)
			}
			pool, _, closeDB, err := openMigratedDatabase(ctx, cfg.db, "")
			if err != nil {
				return err
			}
			defer closeDB()
			return run(ctx, pool, cfg, clientName)
		},
	}
}

func addClient(ctx context.Context, pool *pgxpool.Pool, cfg *clientsFlags, name string) error {
	_, key, err := db.CreateClient(ctx, pool, name, int32(cfg.maxHeldRooms), int32(cfg.maxRoomsPerEvent))
	if err != nil {
		if errors.Is(err, db.ErrClientExists) {
			return usagef("a client named %q exists; revoke it or choose another name", name)
		}
		return err
	}
	if cfg.json {
		return json.NewEncoder(os.Stdout).Encode(map[string]string{"client": name, "api_key": key})
	}
	fmt.Printf("client %s added; its API key, shown this once (only a hash is kept):\n%s\n", name, key)
	return nil
}

func listClients(ctx context.Context, pool *pgxpool.Pool, cfg *clientsFlags, _ string) error {
	clients, err := db.ListClients(ctx, pool)
	if err != nil {
		return err
	}
	if cfg.json {
		return json.NewEncoder(os.Stdout).Encode(clients)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "client\tmax held rooms\tmax rooms per event\theld now\tcreated\trevoked")
	for _, c := range clients {
		limit, perEvent, revoked := "server's", "server's", "-"
		if c.MaxHeldRooms != nil {
			limit = fmt.Sprint(*c.MaxHeldRooms)
		}
		if c.MaxRoomsPerEvent != nil {
			perEvent = fmt.Sprint(*c.MaxRoomsPerEvent)
		}
		if c.RevokedAt != nil {
			revoked = c.RevokedAt.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", c.Name, limit, perEvent, c.HeldRooms, c.CreatedAt.UTC().Format("2006-01-02 15:04:05"), revoked)
	}
	return tw.Flush()
}

func revokeClient(ctx context.Context, pool *pgxpool.Pool, _ *clientsFlags, name string) error {
	released, revoked, err := db.RevokeClient(ctx, pool, name)
	if err != nil {
		return err
	}
	if !revoked {
		return usagef("no live client named %q", name)
	}
	fmt.Printf("client %s revoked; its holds released, %d rooms back\n", name, released)
	return nil
}
