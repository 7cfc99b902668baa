package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
)

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

// describeFlagValues makes every numeric, duration and boolean flag of c
// and its subcommands answer a bad value with what it takes.
func describeFlagValues(c *ffcli.Command) {
	if c.FlagSet != nil {
		c.FlagSet.VisitAll(func(f *flag.Flag) {
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
		})
	}
	for _, sub := range c.Subcommands {
		describeFlagValues(sub)
	}
}
