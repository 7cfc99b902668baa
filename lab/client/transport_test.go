package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// get asks the server through client and reads the answer whole.
func get(ctx context.Context, t *testing.T, client *http.Client, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
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
	client := &http.Client{Transport: newTransport(4)}
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
	server := newConnServer(t, ok)
	client := &http.Client{Transport: newTransport(4)}
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatal(err)
	}
	server.CloseClientConnections()
	<-server.closed
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatalf("after the server closed the idle connection: %v", err)
	}
	if n := server.opened.Load(); n != 2 {
		t.Fatalf("opened %d connections, want 2", n)
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
	client := &http.Client{Transport: newTransport(2)}
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
	client := &http.Client{Transport: newTransport(1)}
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

func TestTransportReportsARefusedConnectionAsNeverSent(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := listener.Addr().String()
	listener.Close()
	client := &http.Client{Transport: newTransport(1)}
	err = get(t.Context(), t, client, "http://"+addr)
	if err == nil || !neverSent(err) {
		t.Fatalf("a refused connection: %v, want an error that says nothing was sent", err)
	}
}

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
	client := &http.Client{Transport: newTransport(20)}
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

// A connection goes back to the pool without its last request's
// deadline, which would otherwise fail the next request's peek, and every
// request after a short --client-timeout would dial again.
func TestTransportReusesAConnectionPastItsLastDeadline(t *testing.T) {
	t.Parallel()
	server := newConnServer(t, ok)
	client := &http.Client{Transport: newTransport(1)}
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
	client := &http.Client{Transport: newTransport(1)}
	for range 2 {
		resp, err := client.Get(url)
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
	client := &http.Client{Transport: newTransport(2)}
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

func TestTransportSpeaksHTTPS(t *testing.T) {
	t.Parallel()
	var opened atomic.Int32
	server := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	server.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	server.StartTLS()
	t.Cleanup(server.Close)
	tr := newTransport(1)
	tr.tls = server.Client().Transport.(*http.Transport).TLSClientConfig
	client := &http.Client{Transport: tr}
	for range 3 {
		if err := get(t.Context(), t, client, server.URL); err != nil {
			t.Fatal(err)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("opened %d connections, want 1", n)
	}
}

func TestTransportClosesItsIdleConnections(t *testing.T) {
	t.Parallel()
	server := newConnServer(t, ok)
	tr := newTransport(2)
	client := &http.Client{Transport: tr}
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	select {
	case <-server.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle connection is still open")
	}
	// Its slot is free again: a limit of 2 still lets 2 requests run at once.
	if err := get(t.Context(), t, client, server.URL); err != nil {
		t.Fatal(err)
	}
}
