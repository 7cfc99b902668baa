package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Transport limits of evento serve. Every valid request fits in a few
// hundred bytes of headers; a client that sends more, or opens more
// connections than the server can use, is only spending its memory.
const (
	maxHeaderBytes = 8 << 10
	// net/http reads MaxHeaderBytes plus this much slack before it answers
	// 431 (http.Server.initialReadLimitSize); taking it off makes 8 KiB
	// the limit a client actually meets.
	netHTTPHeaderSlack = 4096
	// idleTimeout frees a kept-alive connection, and with --max-conns its
	// slot, when its client has gone quiet.
	idleTimeout     = 30 * time.Second
	defaultMaxConns = 4096
	// maxAdminConns is plenty for a scraper and a health check.
	maxAdminConns     = 64
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
)

// newHTTPServer is how evento serve configures each of its HTTP servers.
// net/http answers an oversized header (431) and a malformed request line
// (400) itself, in plain text, before any handler runs.
func newHTTPServer(handler http.Handler, writeTimeout time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes - netHTTPHeaderSlack,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listen listens on addr and serves at most maxConns connections at once,
// at most perAddr of them from one remote address (connLimits): past
// that, a new connection waits until one closes, instead of each costing
// the server a goroutine and buffers, and idle ones make room. The
// server's ConnState must be the result's Track.
func listen(addr string, maxConns, perAddr int) (*connLimits, error) {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return newConnLimits(listener, maxConns, perAddr), nil
}

// serveUntil serves each server on its listener until ctx ends or one of
// them stops, then shuts them all down, letting requests in flight finish
// for up to 10 seconds.
func serveUntil(ctx context.Context, servers []*http.Server, listeners []net.Listener) error {
	served := make(chan error, len(servers))
	for i, server := range servers {
		go func() { served <- server.Serve(listeners[i]) }()
	}
	var errs []error
	pending := len(servers)
	select {
	case err := <-served:
		pending--
		errs = append(errs, fmt.Errorf("serve: %w", err))
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, server := range servers {
		if err := server.Shutdown(shutdownCtx); err != nil {
			errs = append(errs, fmt.Errorf("shut down: %w", err))
		}
	}
	for range pending {
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("serve: %w", err))
		}
	}
	return errors.Join(errs...)
}
