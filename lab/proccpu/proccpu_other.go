//go:build !linux

package proccpu

import "time"

// Stat fails: /proc is Linux's.
func Stat(pid int) (Process, error) { return Process{}, ErrUnsupported }

// Self fails: /proc is Linux's.
func Self() (time.Duration, error) { return 0, ErrUnsupported }

// Tree fails: /proc is Linux's.
func Tree(pid int) (time.Duration, error) { return 0, ErrUnsupported }

// ReadMachine fails: /proc is Linux's.
func ReadMachine() (Machine, error) { return Machine{}, ErrUnsupported }
