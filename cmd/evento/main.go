// Command evento is Evento's single binary: the reservation server, the
// seeder, and the lab that drives them. It only parses flags and wires them
// to the api, db and lab packages; what a command does lives there.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// usageError marks errors caused by how evento was invoked; they exit 2.
type usageError struct{ error }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	// SIGHUP too: a closed terminal or ssh session must still clean up.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	// Writing to a closed pipe (evento ... | head) must end in an error we
	// handle, with the throwaway database cleaned up, not in a silent death.
	signal.Ignore(syscall.SIGPIPE)

	root := newRootCommand()
	// Flag errors are one line; the full usage only on --help, on stdout.
	var usage bytes.Buffer
	prepare(root, &usage)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Stdout.Write(usage.Bytes())
			return 0
		}
		// ff says "error parsing commandline arguments: " before the flag
		// package's own line, which already names the flag and the value.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		failed, path := failedCommand(root)
		fmt.Fprintf(os.Stderr, "evento: %v%s (see %s --help)\n", err, flagHint(failed, err), path)
		return 2
	}
	warnSecretsInArgs(os.Stderr, args)
	stopProfile := startCPUProfile(args)
	err := root.Run(ctx)
	stopProfile()
	var exit exitCode
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		os.Stdout.Write(usage.Bytes())
		return 0
	case errors.As(err, &exit):
		return int(exit)
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Interrupted before there was a report to print (starting the
		// servers, adding clients): what was started is stopped, and
		// "context canceled" would read as a failure.
		fmt.Fprintf(os.Stderr, "evento: interrupted: %v\n", err)
		return 130
	default:
		fmt.Fprintf(os.Stderr, "evento: %v\n", err)
		return 2
	}
}

// exitCode ends the process with a status after the command has already
// said everything it had to say.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// newRootCommand is the brief's command line: `evento --clients 200
// --strategy naive --rooms 200 --servers 2` runs the experiment; the
// subcommands are its parts.
func newRootCommand() *ffcli.Command {
	var cfg runConfig
	fs := flag.NewFlagSet("evento", flag.ContinueOnError)
	registerRunFlags(fs, &cfg)
	root := &ffcli.Command{
		Name:       "evento",
		ShortUsage: runUsage + "\n  evento <subcommand> [flags]",
		ShortHelp:  "A lab that shows which concurrency-control strategies stop overbooking, and what each costs.",
		FlagSet:    fs,
		Subcommands: []*ffcli.Command{
			newRunCommand(),
			newCompareCommand(),
			newBenchCommand(),
			newLoadCommand(),
			newCheckCommand(),
			newServeCommand(),
			newSeedCommand(),
			newMigrateCommand(),
			newClientsCommand(),
			newExplainCommand(),
		},
	}
	root.Exec = func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return unknownSubcommand(root, args[0])
		}
		return runExperiment(ctx, cfg)
	}
	return root
}

// noArgs adapts a command that takes flags only: a stray argument is a
// usage error rather than silently ignored.
func noArgs(exec func(ctx context.Context) error) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		return exec(ctx)
	}
}
