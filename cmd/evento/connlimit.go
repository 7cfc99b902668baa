package main

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimits is evento serve's listener. It serves at most max connections
// at once and at most perAddr from one remote address (an IPv4 address or
// an IPv6 /64, which one host gets whole). When all max are taken, it
// closes the connection that has been idle longest between requests to
// make room, and only if none is idle does the next connection wait for
// one to close. So a client keeping connections open but quiet cannot lock
// others out, and one address cannot hold more than its share with busy
// ones. Closing an idle keep-alive connection is what any server's idle
// timeout does: HTTP clients expect it and open another.
type connLimits struct {
	net.Listener
	max, perAddr int

	mu     sync.Mutex
	open   int
	byAddr map[string]int
	// idle are the connections between requests (http.Server.ConnState),
	// with the time each became so.
	idle map[*limitedConn]time.Time
	// closing counts idle connections closed to make room that have not
	// yet gone (their Close has not run).
	closing int
	// freed gets a token when a connection goes; done closes with the
	// listener.
	freed chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newConnLimits(l net.Listener, maxConns, perAddr int) *connLimits {
	return &connLimits{Listener: l, max: maxConns, perAddr: min(perAddr, maxConns),
		byAddr: map[string]int{}, idle: map[*limitedConn]time.Time{},
		freed: make(chan struct{}, 1), done: make(chan struct{})}
}

// Accept returns the next connection within the limits. A connection
// from an address that has its share open already is closed at once.
func (l *connLimits) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := addrKey(conn.RemoteAddr())
		l.mu.Lock()
		if l.byAddr[addr] >= l.perAddr {
			l.mu.Unlock()
			conn.Close()
			continue
		}
		for l.open >= l.max {
			// Full: unless room is being made already, make it.
			if l.open-l.closing >= l.max {
				if c := l.idlest(); c != nil {
					delete(l.idle, c)
					l.closing++
					c.makingRoom = true
					// The inner connection: the server's goroutine, whose
					// read fails, closes the wrapper, which frees the slot.
					c.Conn.Close()
					continue
				}
			}
			l.mu.Unlock()
			select {
			case <-l.freed:
			case <-l.done:
				conn.Close()
				return nil, net.ErrClosed
			}
			l.mu.Lock()
		}
		l.open++
		l.byAddr[addr]++
		l.mu.Unlock()
		return &limitedConn{Conn: conn, limits: l, addr: addr}, nil
	}
}

// Close stops accepting; connections already served are left to the
// server.
func (l *connLimits) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Track is the http.Server's ConnState hook: it knows which connections
// are idle.
func (l *connLimits) Track(conn net.Conn, state http.ConnState) {
	c, ok := conn.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if state == http.StateIdle && !c.gone {
		l.idle[c] = time.Now()
	} else {
		delete(l.idle, c)
	}
}

// idlest is the connection idle longest; nil when none is idle.
func (l *connLimits) idlest() *limitedConn {
	var oldest *limitedConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	return oldest
}

func (l *connLimits) release(c *limitedConn) {
	l.mu.Lock()
	c.gone = true
	delete(l.idle, c)
	if c.makingRoom {
		l.closing--
	}
	l.open--
	if l.byAddr[c.addr]--; l.byAddr[c.addr] == 0 {
		delete(l.byAddr, c.addr)
	}
	l.mu.Unlock()
	select {
	case l.freed <- struct{}{}:
	default:
	}
}

type limitedConn struct {
	net.Conn
	limits *connLimits
	addr   string
	once   sync.Once
	// makingRoom and gone: under limits.mu.
	makingRoom, gone bool
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.limits.release(c) })
	return c.Conn.Close()
}

// addrKey is the address a connection counts against: its IP, or for IPv6
// its /64, the block one host or home is given.
func addrKey(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return tcp.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
