// Package faultproxy holds two proxies that lose replies on command, so a
// lost answer is reproduced on demand instead of waited for: Proxy between
// Evento's servers and PostgreSQL (a lost reply to what commits), HTTP between the
// clients and a server (for evento load, which cannot reach the servers'
// side). Proxy reads just enough of PostgreSQL's wire protocol to
// recognise messages and follow each connection's transaction block; it
// never changes a message.
package faultproxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// Match picks the client message whose reply is lost: typ is the message
// type ('Q' simple query, 'B' bind, 'S' sync...), body what follows the
// length, session what that connection's earlier messages did.
type Match func(typ byte, body []byte, session Session) bool

// Session is what a connection's messages so far say about it, as far as
// losing a commit's reply needs.
type Session struct {
	// InTx: a transaction block is open, begun and not yet ended, by a
	// simple query or by an executed prepared statement (pgx sends BEGIN,
	// COMMIT and ROLLBACK as simple queries, and a pgx.Batch pipelines
	// them, BeginTx's included, with the statements around them).
	InTx bool
	// Executed: an Execute came since the last Sync.
	Executed bool

	// What each statement and portal, by name, does to the block, for
	// those that do something: pgx parses a statement once and then only
	// binds it. A portal keeps what its statement did when it was bound,
	// as PostgreSQL's portal keeps the query.
	statements, portals map[string]txEffect
}

// observe updates s with the connection's next message.
func (s *Session) observe(typ byte, body []byte) {
	switch typ {
	case 'P': // Parse: statement name, query, parameter types
		name, rest := cstring(body)
		query, _ := cstring(rest)
		s.statements = remember(s.statements, name, effectOf(query))
	case 'B': // Bind: portal name, statement name, parameters
		portal, rest := cstring(body)
		statement, _ := cstring(rest)
		s.portals = remember(s.portals, portal, s.statements[statement])
	case 'E': // Execute: portal name, row limit
		s.Executed = true
		portal, _ := cstring(body)
		s.apply(s.portals[portal])
	case 'C': // Close: 'S' statement or 'P' portal, name
		if len(body) > 0 {
			name, _ := cstring(body[1:])
			switch body[0] {
			case 'S':
				delete(s.statements, name)
			case 'P':
				delete(s.portals, name)
			}
		}
	case 'S':
		s.Executed = false
	case 'Q':
		query, _ := cstring(body)
		s.apply(effectOf(query))
	}
}

// txEffect is what a statement does to the transaction block.
type txEffect int8

const (
	keepsBlock txEffect = iota
	beginsBlock
	endsBlock
)

// effectOf reads a statement's effect off its first words. It reads no
// further than the second: it sees every statement a client parses.
func effectOf(query string) txEffect {
	first, rest := nextWord(query)
	switch first {
	case "begin", "start":
		return beginsBlock
	case "rollback":
		if second, _ := nextWord(rest); second == "to" {
			return keepsBlock // ROLLBACK TO SAVEPOINT: the transaction goes on.
		}
		return endsBlock
	case "commit", "end", "abort":
		return endsBlock
	}
	return keepsBlock
}

// nextWord splits s's first word, lower-cased, off the rest, as
// strings.Fields would split it.
func nextWord(s string) (word, rest string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	end := strings.IndexFunc(s, unicode.IsSpace)
	if end < 0 {
		end = len(s)
	}
	return strings.ToLower(s[:end]), s[end:]
}

func (s *Session) apply(e txEffect) {
	switch e {
	case beginsBlock:
		s.InTx = true
	case endsBlock:
		s.InTx = false
	}
}

// remember records e as name's effect. Only names that begin or end a
// block are kept, so the map stays as small as the transaction control
// the client prepares; a name given to another statement forgets it.
func remember(m map[string]txEffect, name string, e txEffect) map[string]txEffect {
	if e == keepsBlock {
		delete(m, name)
		return m
	}
	if m == nil {
		m = map[string]txEffect{}
	}
	m[name] = e
	return m
}

// cstring splits the null-terminated string at the front of b off the rest.
func cstring(b []byte) (string, []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return string(b), nil
	}
	return string(b[:i]), b[i+1:]
}

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

// StartFor starts a proxy in front of the server that the PostgreSQL URL
// dbURL names, and returns it with dbURL through it: the same database,
// user and options, another host and port.
func StartFor(dbURL string) (*Proxy, string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, "", fmt.Errorf("fault proxy: parse database URL: %w", err)
	}
	p, err := Start(u.Host)
	if err != nil {
		return nil, "", err
	}
	u.Host = p.Addr()
	return p, u.String(), nil
}

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

// LoseReplyTo arms the proxy (nil disarms it): the next client message that match accepts,
// on any connection, reaches PostgreSQL, and then the client's side of
// that connection is cut before any reply reaches it. PostgreSQL's side
// stays open and silent, as if the client had vanished, so PostgreSQL
// finishes what the message asked for.
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

// Commits matches the message that commits, whatever the protocol: a
// simple-protocol COMMIT, or the Sync that ends executed statements
// outside a transaction block, which commits them (an autocommit booking,
// batch or fast path; a read's too, whose lost reply changes no data; a
// pipeline that ends its block with a prepared COMMIT, as a pgx.Batch
// does). A Sync inside a transaction block commits nothing, and is let
// through.
//
// The proxy sees requests, not replies: a COMMIT is taken for done when it
// is sent. If a statement before it in the same pipeline fails,
// PostgreSQL skips the COMMIT, leaving the block failed until a ROLLBACK,
// and Commits still loses the Sync's reply, although nothing committed
// (as it loses the reply to a simple-protocol COMMIT of a failed block,
// which rolls back).
func Commits() Match {
	return func(typ byte, body []byte, s Session) bool {
		switch typ {
		case 'Q':
			return s.InTx && Query("commit")(typ, body, s)
		case 'S':
			return s.Executed && !s.InTx
		}
		return false
	}
}

// Query matches a simple-protocol query whose text starts with prefix.
func Query(prefix string) Match {
	return func(typ byte, body []byte, _ Session) bool {
		return typ == 'Q' && len(body) >= len(prefix) && strings.EqualFold(string(body[:len(prefix)]), prefix)
	}
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
		p.mu.Lock()
		p.conns[client], p.conns[server] = struct{}{}, struct{}{}
		p.mu.Unlock()
		muted := new(atomic.Bool)
		p.wg.Add(2)
		go p.clientToServer(client, server, muted)
		go p.serverToClient(server, client, muted)
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

// serverToClient copies replies until either side ends. Once the client
// is muted (its connection cut), the first reply PostgreSQL sends is its
// answer to the cut message: PostgreSQL has acted on it, and its session
// is closed then, so that cut sessions do not pile up to max_connections.
func (p *Proxy) serverToClient(server, client net.Conn, muted *atomic.Bool) {
	defer p.wg.Done()
	defer p.forget(client, server)
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if muted.Load() {
			return
		}
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// clientToServer forwards message by message, so that it can cut the
// connection right after the armed message.
func (p *Proxy) clientToServer(client, server net.Conn, muted *atomic.Bool) {
	defer p.wg.Done()
	// The startup message (or an SSL or cancel request) has no type byte.
	cancel := false
	err := forward(client, server, false, func(_ byte, body []byte) bool {
		cancel = isCancelRequest(body)
		return !cancel
	})
	if err != nil || cancel {
		p.forget(client, server)
		return
	}
	var session Session
	for {
		cut := false
		err := forward(client, server, true, func(typ byte, body []byte) bool {
			p.mu.Lock()
			if cut = p.armed != nil && p.armed(typ, body, session); cut {
				p.armed = nil
				p.dropped++
				// No reply may reach the client from here on. The client
				// is cut only once PostgreSQL has the message: cut first,
				// and the client's reaction (pgx cancels, and gives up the
				// connection) could race the message on its way.
				muted.Store(true)
			}
			p.mu.Unlock()
			// The session is this connection's alone: followed outside
			// the lock every connection takes.
			session.observe(typ, body)
			return true
		})
		if err != nil {
			p.forget(client, server)
			return
		}
		if cut {
			// PostgreSQL has the message and acts on it; its session stays
			// open, silent, until PostgreSQL or Close ends it.
			_ = client.Close()
			return
		}
	}
}

// forward copies one message from src to dst, unless inspect, told about
// it first, says not to send it.
func forward(src io.Reader, dst io.Writer, typed bool, inspect func(typ byte, body []byte) (send bool)) error {
	size := 4 // the length
	if typed {
		size = 5 // a type byte, then the length
	}
	header := make([]byte, size)
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
	if inspect != nil && !inspect(header[0], body) {
		return nil
	}
	_, err := dst.Write(append(header, body...))
	return err
}

// cancelRequestCode opens a CancelRequest, which a client sends on a new
// connection to stop a query it started.
const cancelRequestCode = 80877102

// isCancelRequest reports whether an untyped message is a CancelRequest.
// The proxy never forwards one: a client cut off from the server could
// not reach it to cancel either, and pgx sends one whenever a connection
// fails, which would race the very statement whose reply was lost and
// make the test's outcome a matter of timing.
func isCancelRequest(body []byte) bool {
	return len(body) == 12 && binary.BigEndian.Uint32(body[:4]) == cancelRequestCode
}
