package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// startTransport serves handler the way evento serve does, with at most
// maxConns connections, and returns its address.
func startTransport(t *testing.T, maxConns int, handler http.Handler) string {
	t.Helper()
	listener, err := listen("127.0.0.1:0", maxConns)
	if err != nil {
		t.Fatal(err)
	}
	server := newHTTPServer(handler, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go server.Serve(listener)
	t.Cleanup(func() { server.Close() })
	return listener.Addr().String()
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })

func TestHeadersOver8KiBAre431(t *testing.T) {
	t.Parallel()
	addr := startTransport(t, 10, okHandler)
	for _, c := range []struct {
		size int
		want int
	}{
		{6 << 10, http.StatusOK},
		{(8 << 10) + 1, http.StatusRequestHeaderFieldsTooLarge},
		{64 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		req, err := http.NewRequest("GET", "http://"+addr+"/healthz", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Filler", strings.Repeat("a", c.size))
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err != nil {
			t.Fatalf("%d bytes of headers: %v", c.size, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%d bytes of headers: status %d, want %d", c.size, resp.StatusCode, c.want)
		}
	}
}

// With --max-conns 2, a third connection is accepted by the kernel but not
// served until one of the first two closes.
func TestMaxConnsHoldsBackTheNextConnection(t *testing.T) {
	t.Parallel()
	addr := startTransport(t, 2, okHandler)
	get := func(conn net.Conn, r *bufio.Reader) error {
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	var open []net.Conn
	for range 2 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if err := get(conn, bufio.NewReader(conn)); err != nil {
			t.Fatalf("connection %d: %v", len(open)+1, err)
		}
		open = append(open, conn) // kept alive: it holds its slot
	}

	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { third.Close() })
	if _, err := io.WriteString(third, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, err := third.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection was answered while two were open: %d bytes, %v", n, err)
	}

	open[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(third), nil)
	if err != nil {
		t.Fatalf("third connection after one closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("third connection: status %d", resp.StatusCode)
	}
}

func TestServeTransportSettings(t *testing.T) {
	t.Parallel()
	server := newHTTPServer(okHandler, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if server.IdleTimeout != 30*time.Second || server.ReadHeaderTimeout == 0 || server.ReadTimeout == 0 || server.WriteTimeout != time.Second {
		t.Fatalf("timeouts: idle %v, read header %v, read %v, write %v", server.IdleTimeout, server.ReadHeaderTimeout, server.ReadTimeout, server.WriteTimeout)
	}
}
