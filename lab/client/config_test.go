package client

import "testing"

func TestParseRange(t *testing.T) {
	t.Parallel()
	cases := map[string]Range{
		"0":        {},
		"0-300ms":  {0, 300e6},
		"50ms":     {50e6, 50e6},
		"10-20ms":  {10e6, 20e6},
		"1s-1.5s":  {1e9, 1.5e9},
		"0ms-10ms": {0, 10e6},
	}
	for in, want := range cases {
		got, err := ParseRange(in)
		if err != nil || got != want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "fast", "300ms-0", "-5ms", "1-2-3ms"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) accepted", bad)
		}
	}
}
