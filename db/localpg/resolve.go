package localpg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultURL is where Resolve looks for a server when DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@localhost:5432/evento"

const (
	defaultDatabase = "evento"
	// An explicitly configured server gets a little longer: a remote one
	// may be slow, and failing is final. The local probe only decides
	// whether to start our own, so it must not delay every run.
	explicitProbeTimeout = 3 * time.Second
	defaultProbeTimeout  = 1500 * time.Millisecond
)

// ResolveOptions configures Resolve.
type ResolveOptions struct {
	// DatabaseURL is the value of DATABASE_URL; empty means unset.
	DatabaseURL string
	// Embedded forces a throwaway cluster even if a server is reachable.
	Embedded bool
	// DBDir, Durable, MaxConnections and Log are passed to Start as
	// Options.Dir, Options.Durable, Options.MaxConnections and Options.Log.
	DBDir          string
	Durable        bool
	MaxConnections int
	Log            io.Writer
}

// Resolved is the database Evento should use.
type Resolved struct {
	// URL is the connection string to use.
	URL string
	// Embedded is true when Resolve started the server itself.
	Embedded bool
	// Server is the server Resolve started; nil for one found running,
	// which the lab may use but never restarts, crashes or pauses.
	Server *Server
	// Close stops the server if Resolve started it, and does nothing
	// otherwise. The caller must call it on every exit path.
	Close func() error
}

// Resolve decides which database Evento uses:
//   - with Embedded, a server started by Start, using the database named in
//     DatabaseURL or else "evento";
//   - with DatabaseURL, that server and nothing else: if it cannot be
//     reached, the error names its host and port;
//   - otherwise DefaultURL if a server answers there, and a server started
//     by Start if nothing does.
//
// In every case a missing database is created.
func Resolve(ctx context.Context, o ResolveOptions) (*Resolved, error) {
	switch {
	case o.Embedded:
		name := defaultDatabase
		if o.DatabaseURL != "" {
			cfg, err := pgx.ParseConfig(o.DatabaseURL)
			if err != nil {
				return nil, fmt.Errorf("DATABASE_URL: %w", err)
			}
			if cfg.Database != "" {
				name = cfg.Database
			}
		}
		return startEmbedded(ctx, o, name)
	case o.DatabaseURL != "":
		return useServer(ctx, o.DatabaseURL, "DATABASE_URL", explicitProbeTimeout)
	}
	r, err := useServer(ctx, DefaultURL, "default URL", defaultProbeTimeout)
	var unreachable *unreachableError
	if errors.As(err, &unreachable) {
		r, err = startEmbedded(ctx, o, defaultDatabase)
		if err != nil {
			return nil, fmt.Errorf("no PostgreSQL at %s, and cannot start one: %w", unreachable.addr, err)
		}
		return r, nil
	}
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w; set DATABASE_URL to use another server", err)
	}
	return r, err
}

func startEmbedded(ctx context.Context, o ResolveOptions, database string) (*Resolved, error) {
	s, err := Start(ctx, Options{Dir: o.DBDir, Durable: o.Durable, MaxConnections: o.MaxConnections, Log: o.Log, Database: database})
	if err != nil {
		return nil, err
	}
	url := s.URL(database)
	if err := EnsureDatabase(ctx, url); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return &Resolved{URL: url, Embedded: true, Server: s, Close: s.Stop}, nil
}

// useServer checks that the server behind rawURL answers, creating the
// database if only that is missing. source names where the URL came from,
// for error messages.
func useServer(ctx context.Context, rawURL, source string, timeout time.Duration) (*Resolved, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	probeCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	probeCfg := cfg.Copy()
	probeCfg.ConnectTimeout = timeout
	conn, err := pgx.ConnectConfig(probeCtx, probeCfg)
	switch {
	case err == nil:
		_ = conn.Close(probeCtx)
	case hasCode(err, pgerrcode.InvalidCatalogName):
		if err := createDatabase(ctx, cfg); err != nil {
			return nil, fmt.Errorf("PostgreSQL at %s (from %s): %w", addr, source, err)
		}
	case ctx.Err() != nil:
		// The caller gave up (e.g. Ctrl-C); the server is not to blame.
		return nil, ctx.Err()
	default:
		if reason, ok := unreachableReason(err, timeout); ok {
			return nil, &unreachableError{addr: addr, source: source, reason: reason, err: err}
		}
		return nil, fmt.Errorf("PostgreSQL at %s (from %s): %s", addr, source, oneLine(err.Error()))
	}
	return &Resolved{URL: rawURL, Close: func() error { return nil }}, nil
}

// unreachableError means nothing answered at addr, as opposed to a server
// that answered with an error. Its message is one line, fit for a terminal.
type unreachableError struct {
	addr, source, reason string
	err                  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach PostgreSQL at %s (from %s): %s", e.addr, e.source, e.reason)
}

func (e *unreachableError) Unwrap() error { return e.err }

// unreachableReason reports whether err means no server answered, and says
// why in a few words. pgx's own message lists every address it tried, on
// several lines, which is too much for a one-line error.
func unreachableReason(err error, timeout time.Duration) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return "", false // a server answered
	}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return "cannot resolve host " + dnsErr.Name + ": " + dnsErr.Err, true
	case pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
		return fmt.Sprintf("no answer within %s", timeout), true
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host", true
	case errors.Is(err, syscall.ENOENT):
		return "no server socket", true
	}
	return "", false
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
