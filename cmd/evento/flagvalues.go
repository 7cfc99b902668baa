package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
)

// prepare readies c and its subcommands: every flag is also an EVENTO_
// environment variable, usage goes to w, and every numeric, duration and
// boolean flag answers a bad value with what it takes.
func prepare(c *ffcli.Command, w io.Writer) {
	c.Options = []ff.Option{ff.WithEnvVarPrefix("EVENTO")}
	c.UsageFunc = usage
	if c.FlagSet != nil {
		c.FlagSet.SetOutput(w)
		c.FlagSet.VisitAll(describeValue)
	}
	for _, sub := range c.Subcommands {
		prepare(sub, w)
	}
}

// describedValue is a flag whose parse error says what is allowed: the
// flag package's own says only "parse error" for --seed -1.
type describedValue struct {
	flag.Value
	allowed string
}

func (v describedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("want %s", v.allowed)
	}
	return nil
}

// IsBoolFlag keeps --json working without a value.
func (v describedValue) IsBoolFlag() bool {
	b, ok := v.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func describeValue(f *flag.Flag) {
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return
	}
	var allowed string
	switch getter.Get().(type) {
	case int, int64:
		allowed = "a whole number"
	case uint, uint64:
		allowed = "a whole number from 0"
	case float64:
		allowed = "a number"
	case time.Duration:
		allowed = "a duration such as 500ms, 3s or 2m"
	case bool:
		allowed = "true or false"
	default:
		return
	}
	f.Value = describedValue{Value: f.Value, allowed: allowed}
}
