// Package faultproxy is a TCP proxy between Evento's servers and
// PostgreSQL that loses replies on command: it forwards a client's message
// to PostgreSQL, so the statement runs (and commits), and then cuts the
// connection before the reply can come back. That is how a lost COMMIT
// reply is reproduced on demand instead of waited for. It reads just enough
// of PostgreSQL's wire protocol to recognise messages; it never changes one.
package faultproxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Match picks the client message whose reply is lost: typ is the message
// type ('Q' simple query, 'B' bind, 'S' sync...), body what follows the
// length.
type Match func(typ byte, body []byte) bool

// Proxy forwards connections from Addr to a PostgreSQL server.
type Proxy struct {
	target   string
	listener net.Listener

	mu      sync.Mutex
	armed   Match
	dropped int
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target (host:port).
func Start(target string) (*Proxy, error) { return StartAt("127.0.0.1:0", target) }

// StartAt is Start on a chosen address: a proxy started again where a
// closed one listened is the database coming back.
func StartAt(addr, target string) (*Proxy, error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fault proxy: listen: %w", err)
	}
	p := &Proxy{target: target, listener: listener, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is where clients connect instead of PostgreSQL.
func (p *Proxy) Addr() string { return p.listener.Addr().String() }

// LoseReplyTo arms the proxy: the next client message that match accepts,
// on any connection, reaches PostgreSQL, and then that connection is cut
// in both directions before any reply reaches the client.
func (p *Proxy) LoseReplyTo(match Match) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.armed = match
}

// Dropped counts the connections cut so far.
func (p *Proxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Close stops listening and cuts every connection.
func (p *Proxy) Close() error {
	err := p.listener.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// Query matches a simple-protocol query whose text starts with prefix,
// such as "commit" (pgx sends COMMIT that way).
func Query(prefix string) Match {
	return func(typ byte, body []byte) bool {
		return typ == 'Q' && len(body) >= len(prefix) && equalFold(string(body[:len(prefix)]), prefix)
	}
}

// Sync matches the Sync that ends an extended-protocol statement: its reply
// (and, outside a transaction, its commit) is what is lost.
func Sync() Match { return func(typ byte, _ []byte) bool { return typ == 'S' } }

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.track(client, server)
		p.wg.Add(2)
		go p.clientToServer(client, server)
		go p.serverToClient(server, client)
	}
}

func (p *Proxy) track(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
}

func (p *Proxy) forget(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// serverToClient copies replies until either side closes.
func (p *Proxy) serverToClient(server, client net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(client, server)
	p.forget(client, server)
}

// clientToServer forwards message by message, so that it can cut the
// connection right after the armed message.
func (p *Proxy) clientToServer(client, server net.Conn) {
	defer p.wg.Done()
	defer p.forget(client, server)
	// The startup message (or an SSL or cancel request) has no type byte.
	if err := forward(client, server, false, nil); err != nil {
		return
	}
	for {
		cut := false
		err := forward(client, server, true, func(typ byte, body []byte) {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.armed != nil && p.armed(typ, body) {
				p.armed = nil
				p.dropped++
				cut = true
				// No reply may reach the client from here on.
				_ = client.Close()
			}
		})
		if err != nil {
			return
		}
		if cut {
			// PostgreSQL has the message; give it time to act on it
			// before it sees the connection go.
			time.Sleep(200 * time.Millisecond)
			return
		}
	}
}

// forward copies one message from src to dst, telling inspect about it
// before it is sent.
func forward(src io.Reader, dst io.Writer, typed bool, inspect func(typ byte, body []byte)) error {
	var header []byte
	if typed {
		header = make([]byte, 5)
	} else {
		header = make([]byte, 4)
	}
	if _, err := io.ReadFull(src, header); err != nil {
		return err
	}
	length := binary.BigEndian.Uint32(header[len(header)-4:])
	if length < 4 || length > 1<<30 {
		return errors.New("fault proxy: malformed message length")
	}
	body := make([]byte, length-4)
	if _, err := io.ReadFull(src, body); err != nil {
		return err
	}
	if inspect != nil {
		inspect(header[0], body)
	}
	if _, err := dst.Write(append(header, body...)); err != nil {
		return err
	}
	return nil
}
