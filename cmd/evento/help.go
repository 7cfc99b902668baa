package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/evento-lab/evento/lab/report"
)

// helpWidth is the column --help keeps within: a flag's description goes
// under its name, wrapped, so that a long default (--modes lists every
// strategy) cannot push every description off the screen.
const helpWidth = 100

// usage is every command's --help: its description, usage lines,
// subcommands and flags, within helpWidth columns.
func usage(c *ffcli.Command) string {
	var b strings.Builder
	b.WriteString("DESCRIPTION\n")
	if c.ShortHelp != "" {
		b.WriteString(report.Wrap(c.ShortHelp, helpWidth, "  ", "  ") + "\n")
	}
	if c.LongHelp != "" {
		for _, paragraph := range strings.Split(c.LongHelp, "\n\n") {
			b.WriteString("\n" + report.Wrap(paragraph, helpWidth, "  ", "  ") + "\n")
		}
	}
	b.WriteString("\nUSAGE\n")
	for _, line := range strings.Split(c.ShortUsage, "\n") {
		b.WriteString(report.Wrap(line, helpWidth, "  ", "      ") + "\n")
	}
	if len(c.Subcommands) > 0 {
		b.WriteString("\nSUBCOMMANDS\n")
		width := 0
		for _, sub := range c.Subcommands {
			width = max(width, len(sub.Name))
		}
		for _, sub := range c.Subcommands {
			name := fmt.Sprintf("  %-*s  ", width, sub.Name)
			b.WriteString(report.Wrap(sub.ShortHelp, helpWidth, name, strings.Repeat(" ", len(name))) + "\n")
		}
	}
	if c.FlagSet != nil && hasFlags(c.FlagSet) {
		b.WriteString("\nFLAGS\n")
		c.FlagSet.VisitAll(func(f *flag.Flag) {
			b.WriteString(report.Wrap(flagLine(f), helpWidth, "  ", "      ") + "\n")
			_, text := flag.UnquoteUsage(f)
			b.WriteString(report.Wrap(text, helpWidth, "      ", "      ") + "\n")
		})
	}
	return b.String()
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// flagLine is a flag as one types it: --name, and its default (or the kind
// of value it takes when it has none); a switch alone.
func flagLine(f *flag.Flag) string {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "--" + f.Name
	}
	value, _ := flag.UnquoteUsage(f)
	switch {
	case f.DefValue != "":
		value = f.DefValue
	case value == "value":
		// A flag.Value of our own: named after the flag (--api-key-file FILE).
		value = strings.ToUpper(f.Name[strings.LastIndexByte(f.Name, '-')+1:])
	}
	return "--" + f.Name + " " + value
}
