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
	"sync"
	"testing"
	"time"
)

// startTransport serves handler the way evento serve does, with at most
// maxConns connections, perAddr from one address, and returns its address.
func startTransport(t *testing.T, maxConns, perAddr int, handler http.Handler) string {
	t.Helper()
	listener, err := listen("127.0.0.1:0", maxConns, perAddr)
	if err != nil {
		t.Fatal(err)
	}
	server := newHTTPServer(handler, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	server.ConnState = listener.Track
	go server.Serve(listener)
	t.Cleanup(func() { server.Close() })
	return listener.Addr().String()
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })

func TestHeadersOver8KiBAre431(t *testing.T) {
	t.Parallel()
	addr := startTransport(t, 10, 10, okHandler)
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
// served until one of the first two closes, when neither is idle: these
// two are open and have sent nothing yet.
func TestMaxConnsHoldsBackTheNextConnection(t *testing.T) {
	t.Parallel()
	addr := startTransport(t, 2, 2, okHandler)
	var open []net.Conn
	for range 2 {
		open = append(open, dial(t, "127.0.0.1", addr))
	}
	third := dial(t, "127.0.0.2", addr)
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

// One address keeping every connection the server allows open and idle
// (keep-alive after one request each, as the attack trial's 200 did to
// /healthz, and a real client then waited 28.8 s for the idle timeout)
// does not lock out a client from another address: the connection idle
// longest is closed to make room, at once.
func TestIdleConnectionsMakeRoom(t *testing.T) {
	t.Parallel()
	addr := startTransport(t, 8, 8, okHandler)
	var idle []*bufio.Reader
	var conns []net.Conn
	for range 8 {
		conn := dial(t, "127.0.0.1", addr)
		r := bufio.NewReader(conn)
		if err := get(conn, r); err != nil {
			t.Fatalf("idle connection %d: %v", len(idle)+1, err)
		}
		idle, conns = append(idle, r), append(conns, conn)
	}
	start := time.Now()
	other := dial(t, "127.0.0.2", addr)
	if err := get(other, bufio.NewReader(other)); err != nil {
		t.Fatalf("a client from another address, beside 8 idle connections: %v", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("the other client waited %s", waited)
	}
	// One idle connection made room: the one idle longest, which on a
	// loaded machine need not be the first one opened (the server marks a
	// connection idle after the client already has its answer). Every
	// other one is still served.
	closed := make(chan int, len(conns))
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Go(func() {
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := idle[i].ReadByte(); errors.Is(err, io.EOF) {
				closed <- i
			}
		})
	}
	wg.Wait()
	close(closed)
	var made []int
	for i := range closed {
		made = append(made, i)
	}
	if len(made) != 1 {
		t.Fatalf("idle connections closed to make room: %v, want exactly one", made)
	}
	for i, conn := range conns {
		if i == made[0] {
			continue
		}
		conn.SetReadDeadline(time.Time{})
		if err := get(conn, idle[i]); err != nil {
			t.Fatalf("idle connection %d, not the one closed: %v", i+1, err)
		}
	}
}

// One address may hold a quarter of the connections (--max-conns-per-addr):
// its fifth of 16 is closed at once, whatever the first four are doing,
// and another address is served.
func TestConnectionsPerAddressAreBounded(t *testing.T) {
	t.Parallel()
	addr := startTransport(t, 16, 4, okHandler)
	for range 4 {
		// Busy: half a request's headers, not idle.
		conn := dial(t, "127.0.0.1", addr)
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	fifth := dial(t, "127.0.0.1", addr)
	fifth.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(fifth, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, err := fifth.Read(make([]byte, 1)); err == nil {
		t.Fatalf("the fifth connection from one address was served: %d bytes", n)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the fifth connection from one address is held open, not closed")
	}
	other := dial(t, "127.0.0.2", addr)
	if err := get(other, bufio.NewReader(other)); err != nil {
		t.Fatalf("another address beside one at its share: %v", err)
	}
}

// dial connects to addr from the loopback address from (127.0.0.2 is
// another address on the same machine), closed when t ends.
func dial(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// get makes one keep-alive request on conn and reads the whole answer.
func get(conn net.Conn, r *bufio.Reader) error {
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

func TestServeTransportSettings(t *testing.T) {
	t.Parallel()
	server := newHTTPServer(okHandler, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if server.IdleTimeout != 30*time.Second || server.ReadHeaderTimeout == 0 || server.ReadTimeout == 0 || server.WriteTimeout != time.Second {
		t.Fatalf("timeouts: idle %v, read header %v, read %v, write %v", server.IdleTimeout, server.ReadHeaderTimeout, server.ReadTimeout, server.WriteTimeout)
	}
}

// The attack trial's idle keep-alive flood, against a real evento serve:
// one address keeps all of --max-conns open and idle after a /healthz
// each, and a client from another address still gets its answer at once.
func TestServeMakesRoomBesideIdleKeepAlives(t *testing.T) {
	t.Parallel()
	server := startServers(t, setup(t), 1, "--max-conns", "8", "--max-conns-per-addr", "8")[0]
	addr := strings.TrimPrefix(server.URL, "http://")
	healthz := func(conn net.Conn, r *bufio.Reader) error {
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	for i := range 8 {
		conn := dial(t, "127.0.0.1", addr)
		if err := healthz(conn, bufio.NewReader(conn)); err != nil {
			t.Fatalf("idle connection %d: %v", i+1, err)
		}
	}
	start := time.Now()
	other := dial(t, "127.0.0.2", addr)
	if err := healthz(other, bufio.NewReader(other)); err != nil {
		t.Fatalf("a client from another address, beside 8 idle connections: %v", err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("the other client waited %s", waited)
	}
}
