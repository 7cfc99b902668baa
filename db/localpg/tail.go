package localpg

import (
	"bytes"
	"os"
)

// tail returns the last n lines of out, indented, for error messages: the
// useful part of a failed initdb or postgres is usually at the end.
func tail(out []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("    ")
		b.Write(l)
	}
	return b.String()
}

func tailFile(path string, n int) string {
	out, err := os.ReadFile(path)
	if err != nil {
		return "    (no log: " + err.Error() + ")"
	}
	return tail(out, n)
}
