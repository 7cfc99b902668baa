package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// connServer is a test server that counts the connections it accepted
// and tells when one of them closed.
type connServer struct {
	*httptest.Server
	opened atomic.Int32
	closed chan struct{}
}

func newConnServer(t *testing.T, handler http.HandlerFunc) *connServer {
	return startConnServer(t, handler, (*httptest.Server).Start)
}

func newTLSConnServer(t *testing.T, handler http.HandlerFunc) *connServer {
	return startConnServer(t, handler, (*httptest.Server).StartTLS)
}

func startConnServer(t *testing.T, handler http.HandlerFunc, start func(*httptest.Server)) *connServer {
	t.Helper()
	s := &connServer{closed: make(chan struct{}, 64)}
	s.Server = httptest.NewUnstartedServer(handler)
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		switch state {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed <- struct{}{}
		}
	}
	start(s.Server)
	t.Cleanup(s.Close)
	return s
}

// waitClosed waits until one of the server's connections has closed.
func (s *connServer) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-s.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection of the server closed")
	}
}

// get asks the server through client, as the API does (no http.Client
// around it), and reads the answer whole.
func get(ctx context.Context, t *testing.T, client *transport, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.RoundTrip(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `{"available":1}`) }

func TestTransportReusesAConnection(t *testing.T) {
	t.Parallel()
	server := newConnServer(t, ok)
	client := newTransport(4)
	for range 5 {
		if err := get(t.Context(), t, client, server.URL); err != nil {
			t.Fatal(err)
		}
	}
	if n := server.opened.Load(); n != 1 {
		t.Fatalf("5 requests one after another opened %d connections, want 1", n)
	}
}

// A server closes a kept-alive connection when it idles too long, or
// when it shuts down. A request written to it would be lost after the
// server read nothing, and its outcome would be reported unknown.
func TestTransportSkipsAConnectionTheServerClosedWhileIdle(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(*testing.T, http.HandlerFunc) *connServer{
		"http": newConnServer, "https": newTLSConnServer,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			server := start(t, ok)
			client := newTransport(4)
			if server.TLS != nil {
				client.tls = server.Client().Transport.(*http.Transport).TLSClientConfig
			}
			for range 2 {
				if err := get(t.Context(), t, client, server.URL); err != nil {
					t.Fatal(err)
				}
			}
			server.CloseClientConnections()
			server.waitClosed(t)
			if err := get(t.Context(), t, client, server.URL); err != nil {
				t.Fatalf("after the server closed the idle connection: %v", err)
			}
			if n := server.opened.Load(); n != 2 {
				t.Fatalf("opened %d connections, want 2: one reused, then a new one", n)
			}
		})
	}
}

func TestTransportKeepsToItsConnectionLimit(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var inHandler atomic.Int32
	server := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		inHandler.Add(1)
		<-release
		ok(w, r)
	})
	client := newTransport(2)
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Go(func() { errs <- get(t.Context(), t, client, server.URL) })
	}
	for inHandler.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := server.opened.Load(); n != 2 {
		t.Fatalf("5 requests at once through a limit of 2 opened %d connections", n)
	}
}

// A request given up (its timeout, the run's end) returns at once, and its
// connection, which may yet carry the late answer, is never used again.
func TestTransportDropsTheConnectionOfARequestGivenUp(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	server := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		ok(w, r)
	})
	defer close(release)
	client := newTransport(1)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-entered; cancel() }()
	if err := get(ctx, t, client, server.URL); !errors.Is(err, context.Canceled) {
		t.Fatalf("a request cancelled while its server worked: %v, want context.Canceled", err)
	}
	// With a limit of 1, this waits forever unless the dropped
	// connection gave its slot back.
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := get(ctx, t, client, server.URL); err != nil {
		t.Fatalf("the next request: %v", err)
	}
	if n := server.opened.Load(); n != 2 {
		t.Fatalf("opened %d connections, want 2: the first was dropped", n)
	}
}

// A refused connection sent nothing, and says so; the request's body is
// closed, as on every error.
func TestTransportReportsARefusedConnectionAsNeverSent(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close()
	body := &closeRecorder{Reader: strings.NewReader("{}")}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr, body)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newTransport(1).RoundTrip(req)
	if err == nil || !neverSent(err) {
		t.Fatalf("a refused connection: %v, want an error that says nothing was sent", err)
	}
	if !body.closed.Load() {
		t.Fatal("the request body was left open")
	}
}

// closeRecorder is a request body that tells whether it was closed.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

// A request whose deadline passes while its server works fails with the
// deadline, never as a plain connection failure: the client and the run
// read the context to tell the two apart, and the connection's timer
// fires a moment before the context's.
func TestTransportReportsAPassedDeadlineAsTheContexts(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	server := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		ok(w, r)
	})
	defer close(release)
	client := newTransport(20)
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			errs <- get(ctx, t, client, server.URL)
		}()
	}
	for range 20 {
		if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a request past its deadline: %v, want context.DeadlineExceeded", err)
		}
	}
}

// A dial that runs out of its request's time fails with the request's
// context too: the dialer gives up at the deadline, and the context's
// timer may fire a moment later (seen once in CI: a run cut short counted
// the dial as an error). lateContext plays that moment out: its deadline
// has passed, and it ends 50 ms later.
func TestTransportReportsADialPastItsDeadlineAsTheContexts(t *testing.T) {
	t.Parallel()
	server := newConnServer(t, ok)
	inner, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	ctx := lateContext{Context: inner, deadline: time.Now().Add(-time.Millisecond)}
	if err := get(ctx, t, newTransport(1), server.URL); !errors.Is(err, context.Canceled) || !neverSent(err) {
		t.Fatalf("a dial past its deadline: %v, want the context's end, and a dial error (nothing sent)", err)
	}
}

// lateContext is a context whose deadline passed before it ended.
type lateContext struct {
	context.Context
	deadline time.Time
}

func (c lateContext) Deadline() (time.Time, bool) { return c.deadline, true }

// A connection goes back to the pool without its last request's
// deadline, which would otherwise fail the next request's peek, and every
// request after a short --client-timeout would dial again.
func TestTransportReusesAConnectionPastItsLastDeadline(t *testing.T) {
	t.Parallel()
	server := newConnServer(t, ok)
	client := newTransport(1)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := get(ctx, t, client, server.URL); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatal(err)
	}
	if n := server.opened.Load(); n != 1 {
		t.Fatalf("opened %d connections, want 1: the idle one was dropped for its old deadline", n)
	}
}

// rawServer answers each connection's requests with answer, verbatim,
// and never closes a connection itself.
func rawServer(t *testing.T, answer string) (url string, accepted *atomic.Int32) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			t.Cleanup(func() { conn.Close() })
			go func() {
				reader := bufio.NewReader(conn)
				for {
					req, err := http.ReadRequest(reader)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					_, _ = io.WriteString(conn, answer)
				}
			}()
		}
	}()
	return "http://" + listener.Addr().String(), accepted
}

func TestTransportSkipsInformationalAnswers(t *testing.T) {
	t.Parallel()
	url, _ := rawServer(t, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"+
		"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}")
	client := newTransport(1)
	for range 2 {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("status %d, want the 201 after the 103", resp.StatusCode)
		}
	}
}

// A server that says Connection: close may not have closed yet: the
// next request must not be written to that connection, where nobody
// reads it.
func TestTransportDoesNotReuseAConnectionTheServerWillClose(t *testing.T) {
	t.Parallel()
	url, accepted := rawServer(t, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}")
	client := newTransport(2)
	for range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := get(ctx, t, client, url)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := accepted.Load(); n != 2 {
		t.Fatalf("accepted %d connections, want 2", n)
	}
}

func TestTransportClosesItsIdleConnections(t *testing.T) {
	t.Parallel()
	server := newConnServer(t, ok)
	client := newTransport(1)
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatal(err)
	}
	client.CloseIdleConnections()
	server.waitClosed(t)
	// Its slot is free again: with a limit of 1, the next request would
	// wait for it forever.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := get(ctx, t, client, server.URL); err != nil {
		t.Fatal(err)
	}
}

// A request whose context ended before it was written sends nothing,
// even when a kept-alive connection is ready for it.
func TestTransportSendsNothingForARequestAlreadyGivenUp(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	server := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		ok(w, r)
	})
	client := newTransport(1)
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := get(ctx, t, client, server.URL); !errors.Is(err, context.Canceled) {
		t.Fatalf("a request given up before it was sent: %v, want context.Canceled", err)
	}
	// The idle connection is still there, and the server saw one request.
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatal(err)
	}
	if n, opened := requests.Load(), server.opened.Load(); n != 2 || opened != 1 {
		t.Fatalf("the server saw %d requests on %d connections, want 2 on 1", n, opened)
	}
}

// An answer that is not read to its end is not read further: its
// connection goes. An endless answer would otherwise hold Close until the
// request's deadline.
func TestTransportDropsAnAnswerNotReadToItsEnd(t *testing.T) {
	t.Parallel()
	server := newConnServer(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 4096)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	client := newTransport(1)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, server.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { resp.Body.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close is reading an endless answer")
	}
	if _, err := resp.Body.Read(make([]byte, 10)); !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Fatalf("a read after Close: %v, want http.ErrBodyReadAfterClose", err)
	}
}
