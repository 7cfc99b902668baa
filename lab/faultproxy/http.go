package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"
)

// HTTP is a reverse proxy in front of one Evento server that loses the
// servers' answers on command: while it is losing, a POST goes through to
// the server, which does the work and answers, and then the client's
// connection is cut before the answer reaches it. That is a booking made
// and its answer lost, seen from the client's side of the network, for a
// load generator in front of servers it did not start (evento load).
type HTTP struct {
	server   *http.Server
	listener net.Listener
	losing   atomic.Bool
	lost     atomic.Int64
}

// errLoseReply makes the proxy's error handler cut the connection.
var errLoseReply = errors.New("fault proxy: reply lost on purpose")

// StartHTTP listens on a free loopback port and forwards to target, an
// Evento server's base URL.
func StartHTTP(target string) (*HTTP, error) {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("fault proxy: target %q is not a URL", target)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: listen: %w", err)
	}
	p := &HTTP{listener: listener}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		ModifyResponse: func(res *http.Response) error {
			if res.Request.Method == http.MethodPost && p.losing.Load() {
				p.lost.Add(1)
				return errLoseReply
			}
			return nil
		},
		// Whether the reply was lost on purpose or the server could not be
		// reached, the client hears nothing: aborting the handler closes
		// the connection with no answer sent, so the client cannot tell
		// the proxy from the network, and never gets a made-up 502.
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) },
	}
	p.server = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.server.Serve(listener) }()
	return p, nil
}

// URL is the base URL clients use instead of the server's.
func (p *HTTP) URL() string { return "http://" + p.listener.Addr().String() }

// LoseReplies loses every POST's answer for the length of window and
// returns how many were lost.
func (p *HTTP) LoseReplies(ctx context.Context, window time.Duration) int {
	before := p.lost.Load()
	p.losing.Store(true)
	select {
	case <-time.After(window):
	case <-ctx.Done():
	}
	p.losing.Store(false)
	return int(p.lost.Load() - before)
}

// Close stops the proxy and cuts its connections.
func (p *HTTP) Close() error { return p.server.Close() }
