package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"
)

// transport is the load's HTTP/1.1 round tripper. net/http's Transport
// gives every connection a reader and a writer goroutine and hands each
// request and answer between them and the caller: three goroutines woken
// for one booking, a quarter of the load's CPU (docs/performance.md).
// Here the caller writes its request and reads the answer on the
// connection itself.
//
// It keeps to what the load needs: HTTP/1.1 (over TLS for https) to a
// few servers, no proxy, no compression, no redirects, at most perHost
// connections to each, and never a request sent twice (the client decides
// about resends, with the booking's idempotency key). A connection is
// reused only when its last answer was read whole and the server did not
// say Connection: close, and only after a peek shows the server has not
// closed it meanwhile (net/http's reader goroutine learns that by waiting
// on every idle connection): a request written to a closed connection is
// lost, and its outcome unknown, though the server never read it.
type transport struct {
	dialer  net.Dialer
	tls     *tls.Config // for https servers; nil: the system's roots
	perHost int

	mu    sync.Mutex
	hosts map[string]*hostConns
}

type hostConns struct {
	slots chan struct{}     // one per open connection, idle or busy
	idle  chan *persistConn // as many as slots: giving one back never waits
}

// persistConn is one kept-alive connection and its buffers.
type persistConn struct {
	conn      net.Conn
	r         *bufio.Reader
	w         *bufio.Writer
	idleSince time.Time
}

// maxIdle is how long a connection is kept unused: well below the
// servers' idle timeout (30 s), so that a server seldom closes a
// connection just as a request is written to it.
const maxIdle = 10 * time.Second

func newTransport(perHost int) *transport {
	return &transport{
		dialer:  net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		perHost: perHost,
		hosts:   map[string]*hostConns{},
	}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	h, pc, err := t.conn(ctx, req.URL)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, givenUp(ctx, err)
	}
	// A run that ends, or a caller that gives up, unblocks the connection
	// at once, as net/http's Transport does.
	stop := context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(time.Unix(1, 0)) })
	resp, err := pc.roundTrip(req)
	if err != nil {
		stop()
		h.discard(pc)
		return nil, givenUp(ctx, err)
	}
	resp.Body = &connBody{ReadCloser: resp.Body, ctx: ctx, h: h, pc: pc, stop: stop,
		reusable: !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols}
	return resp, nil
}

func (pc *persistConn) roundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Write(pc.w); err != nil {
		return nil, err
	}
	if err := pc.w.Flush(); err != nil {
		return nil, err
	}
	// An informational answer (103 Early Hints, a stray 100) comes before
	// the answer; taken for it, it would be a refusal the server never
	// gave, and the real answer would be read as the next request's. As
	// many as net/http's Transport skips.
	for range maxInformational + 1 {
		resp, err := http.ReadResponse(pc.r, req)
		if err != nil || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, err
		}
	}
	return nil, fmt.Errorf("more than %d informational answers", maxInformational)
}

const maxInformational = 5

func (t *transport) host(addr string) *hostConns {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.hosts[addr]
	if h == nil {
		h = &hostConns{slots: make(chan struct{}, t.perHost), idle: make(chan *persistConn, t.perHost)}
		t.hosts[addr] = h
	}
	return h
}

// conn returns a connection to the server of u, with ctx's deadline: an
// idle one still open, or a new one when a slot is free, or it waits for
// either. It gives none once ctx is done: a request given up while it
// waited sends nothing, as with net/http.
func (t *transport) conn(ctx context.Context, u *url.URL) (*hostConns, *persistConn, error) {
	port := u.Port()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	case port == "" && u.Scheme == "https":
		port = "443"
	case port == "":
		port = "80"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	h := t.host(u.Scheme + "://" + addr)
	deadline, _ := ctx.Deadline()
	for {
		pc, fresh, err := t.next(ctx, h, u, addr)
		switch {
		case err != nil:
			return nil, nil, err
		case ctx.Err() != nil:
			h.putIdle(pc)
			return nil, nil, ctx.Err()
		// The deadline is set before the peek, which fails on a past
		// one: the request that last used the connection left its own.
		// A new connection is not peeked: under TLS, the server's
		// session tickets may wait on it until the first answer is read.
		case time.Since(pc.idleSince) < maxIdle && pc.conn.SetDeadline(deadline) == nil && (fresh || pc.stillOpen()):
			return h, pc, nil
		}
		h.discard(pc)
	}
}

// next takes an idle connection, or dials one when a slot is free, or
// waits for either. An idle connection comes first: a select with both
// ready picks at random, and would dial connections the pool does not
// need.
func (t *transport) next(ctx context.Context, h *hostConns, u *url.URL, addr string) (pc *persistConn, fresh bool, err error) {
	select {
	case pc = <-h.idle:
		return pc, false, nil
	default:
	}
	select {
	case pc = <-h.idle:
		return pc, false, nil
	case h.slots <- struct{}{}:
		if pc, err = t.dial(ctx, u, addr); err != nil {
			<-h.slots
		}
		return pc, true, err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

func (t *transport) dial(ctx context.Context, u *url.URL, addr string) (*persistConn, error) {
	c, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "https" {
		cfg := t.tls.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		cfg.ServerName = u.Hostname()
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			// Nothing was sent: say so the way a failed dial does.
			return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: c.RemoteAddr(), Err: err}
		}
		c = tc
	}
	return &persistConn{conn: c, r: bufio.NewReader(c), w: bufio.NewWriter(c), idleSince: time.Now()}, nil
}

func (h *hostConns) discard(pc *persistConn) {
	pc.conn.Close()
	<-h.slots
}

func (h *hostConns) putIdle(pc *persistConn) {
	pc.idleSince = time.Now()
	h.idle <- pc
}

// stillOpen peeks at the TCP connection without waiting: an idle
// connection has nothing to read, so anything but "would block" (the
// server's FIN, a reset, stray bytes) means it cannot carry another
// request. Under TLS, a record the server sent while the connection idled
// (a session ticket past the first answer) also drops it: a redial, not
// a lost request.
func (pc *persistConn) stillOpen() bool {
	conn := pc.conn
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	raw, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := raw.SyscallConn()
	if err != nil {
		return false
	}
	open := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, errno := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		open = errors.Is(errno, syscall.EAGAIN)
		return true
	})
	return err == nil && open
}

// givenUp says so when a connection failed because its request was
// given up. The connection's deadline, and a dial's, is the request's own,
// or past once the request ended, so a timeout once that deadline has
// passed means the context is done, or is about to be: its timer may fire
// a moment after the connection's, and until then the caller would take
// the end of its request, or of its whole run, for a failure.
func givenUp(ctx context.Context, err error) error {
	timedOut := errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) // a read or write's, a dial's
	if deadline, ok := ctx.Deadline(); ok && timedOut && !time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second): // never, unless ctx is not a timer's
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

// connBody gives its connection back once the answer is read whole.
type connBody struct {
	io.ReadCloser
	ctx      context.Context
	h        *hostConns
	pc       *persistConn
	stop     func() bool
	reusable bool
	atEOF    bool
	closed   bool
}

func (b *connBody) Read(p []byte) (int, error) {
	if b.closed {
		// The connection may carry another request's answer by now.
		return 0, http.ErrBodyReadAfterClose
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		b.atEOF = true
	case err != nil:
		err = givenUp(b.ctx, err)
	}
	return n, err
}

func (b *connBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	// An answer not read to its end is not read further: the connection
	// goes, and with it whatever is left (net/http's Close would read
	// all of it, however long).
	if !b.stop() || !b.atEOF || !b.reusable || b.pc.r.Buffered() > 0 {
		b.h.discard(b.pc)
		return nil
	}
	b.h.putIdle(b.pc)
	return nil
}

// CloseIdleConnections closes every idle connection.
func (t *transport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, h := range t.hosts {
		for drained := false; !drained; {
			select {
			case pc := <-h.idle:
				h.discard(pc)
			default:
				drained = true
			}
		}
	}
}
