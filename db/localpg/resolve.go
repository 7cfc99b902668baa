package localpg

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
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
	// DefaultURL replaces the package's DefaultURL, the server tried when
	// DatabaseURL is empty; empty means DefaultURL. Tests use it to stand
	// a server of theirs in for localhost:5432, which they must not bind.
	DefaultURL string
	// Embedded forces a throwaway cluster even if a server is reachable.
	Embedded bool
	// DBDir, Durable, MaxConnections and Log are passed to Start as
	// Options.Dir, Options.Durable, Options.MaxConnections and Options.Log.
	DBDir          string
	Durable        bool
	MaxConnections int
	Log            io.Writer
	// SmallDisk, when above 0, starts a throwaway cluster whose data
	// lives on a small disk the lab may fill (Options.SmallDisk); without
	// DatabaseURL it implies Embedded.
	SmallDisk int64
	// HA starts a throwaway replicated pair under Patroni (StartHA) in
	// durability mode Durability, and nothing else.
	HA         bool
	Durability string
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
	// HA is the replicated pair Resolve started (ResolveOptions.HA);
	// nil otherwise. Server is nil then.
	HA *HA
	// Close stops the server if Resolve started it, and does nothing
	// otherwise. The caller must call it on every exit path.
	Close func() error
}

// Resolve decides which database Evento uses:
//   - with Embedded, a server started by Start, using the database named in
//     DatabaseURL or else "evento";
//   - with DatabaseURL, that server and nothing else: if it cannot be
//     reached, the error names its host and port;
//   - otherwise DefaultURL if a server answers there and lets us in, and a
//     server started by Start if nothing answers or it refuses the login
//     (a RefusedError: a password we cannot guess, no such role, TLS that
//     fails); Log then gets one line saying so.
//
// In every case a missing database is created.
func Resolve(ctx context.Context, o ResolveOptions) (*Resolved, error) {
	switch {
	case o.HA:
		return startHA(ctx, o)
	case o.Embedded || (o.SmallDisk > 0 && o.DatabaseURL == ""):
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
	defaultURL := o.DefaultURL
	if defaultURL == "" {
		defaultURL = DefaultURL
	}
	r, err := useServer(ctx, defaultURL, "default URL", defaultProbeTimeout)
	var unreachable *unreachableError
	var refusal *RefusedError
	switch {
	case errors.As(err, &unreachable):
		r, err = startEmbedded(ctx, o, defaultDatabase)
		if err != nil {
			return nil, fmt.Errorf("no PostgreSQL at %s, and cannot start one: %w", unreachable.addr, err)
		}
		return r, nil
	case errors.As(err, &refusal):
		// Not the user's server to log in to: they never named it, so its
		// password is not ours to guess. Said before starting, so that a
		// failure to start follows its cause.
		what := "refused the login (" + refusal.Cause + ")"
		if refusal.NoPassword {
			what = "asks for a password (not ours to guess)"
		}
		fmt.Fprintf(logOrStderr(o.Log), "evento: %s %s; starting a throwaway PostgreSQL instead — set DATABASE_URL to use that server\n", refusal.Addr, what)
		r, err = startEmbedded(ctx, o, defaultDatabase)
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL at %s %s, and cannot start one of our own: %w", refusal.Addr, what, err)
		}
		return r, nil
	}
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("%w; set DATABASE_URL to use another server", err)
	}
	return r, err
}

func startEmbedded(ctx context.Context, o ResolveOptions, database string) (*Resolved, error) {
	s, err := Start(ctx, Options{Dir: o.DBDir, Durable: o.Durable, MaxConnections: o.MaxConnections, Log: o.Log, Database: database, SmallDisk: o.SmallDisk})
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

func startHA(ctx context.Context, o ResolveOptions) (*Resolved, error) {
	h, err := StartHA(ctx, HAOptions{Durability: o.Durability, Durable: o.Durable, MaxConnections: o.MaxConnections, Log: o.Log})
	if err != nil {
		return nil, err
	}
	return &Resolved{URL: h.URL(defaultDatabase), Embedded: true, HA: h, Close: h.Stop}, nil
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
		if refusal := refused(err, addr, source, cfg.Password); refusal != nil {
			return nil, refusal
		}
		// Wrapped, so that Unavailable can still see the SQLSTATE.
		return nil, &serverError{msg: fmt.Sprintf("PostgreSQL at %s (from %s): %s", addr, source, oneLine(err.Error())), err: err}
	}
	return &Resolved{URL: rawURL, Close: func() error { return nil }}, nil
}

// serverError is any other error of a server that answered, in one line.
type serverError struct {
	msg string
	err error
}

func (e *serverError) Error() string { return e.msg }
func (e *serverError) Unwrap() error { return e.err }

// Unavailable reports whether err, from Resolve, means the server may let
// us in later without anyone changing a setting: nothing answers (down,
// restarting, a network outage), or it answered that it cannot take us
// now: starting up, shutting down or in recovery (57P01-57P03, class 57P),
// too many connections (53300), or a connection failure (class 08). A
// refused login (class 28, a RefusedError), a bad URL or a missing
// database that cannot be created is not: waiting would not fix it.
func Unavailable(err error) bool {
	var unreachable *unreachableError
	if errors.As(err, &unreachable) {
		return true
	}
	var refusal *RefusedError
	if errors.As(err, &refusal) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == pgerrcode.TooManyConnections
	}
	return false
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

// RefusedError means a server answered at Addr but would not let us in:
// it wants a password we lack or does not take the one given, knows no such
// role, or the TLS handshake failed. Unlike other errors of a server that
// answered, nothing about the server is wrong: the connection settings are.
type RefusedError struct {
	Addr   string // host:port
	Source string // where the URL came from: "DATABASE_URL" or "default URL"
	// Cause says why in a few words on one line, e.g. "a password is
	// required" or the server's "password authentication failed for user
	// "postgres"". It never holds the password.
	Cause string
	// NoPassword is true when the server wants a password and none was
	// given (in the URL, PGPASSWORD or .pgpass).
	NoPassword bool
	Err        error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("PostgreSQL at %s (from %s) refused the login: %s", e.Addr, e.Source, e.Cause)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// refused returns a *RefusedError when err means the server refused the
// login, and nil otherwise. password is the one we sent: without one, a
// server that wants a password is not refusing ours but asking for one.
//
// Only SQLSTATE codes and error types decide. PostgreSQL answers a missing
// password as a wrong one (28P01, invalid_password) with every password
// method: pgx sends the empty password the URL holds, and the server,
// which rejects empty passwords outright, says authentication failed.
// There is no client-side "password required" error to look for.
func refused(err error, addr, source, password string) *RefusedError {
	e := &RefusedError{Addr: addr, Source: source, Err: err}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == pgerrcode.InvalidPassword && password == "":
			e.Cause, e.NoPassword = "a password is required, and none was given", true
		case pgErr.Code == pgerrcode.InvalidPassword, pgErr.Code == pgerrcode.InvalidAuthorizationSpecification:
			// e.g. password authentication failed for user "postgres",
			// role "postgres" does not exist, no pg_hba.conf entry for ...
			e.Cause = oneLine(pgErr.Message)
		default:
			return nil
		}
		return e
	}
	if reason, ok := tlsReason(err); ok {
		e.Cause = "TLS failed: " + reason
		return e
	}
	return nil
}

// tlsReason reports whether err is a failed TLS handshake or certificate
// check, in a few words.
func tlsReason(err error) (string, bool) {
	var verify *tls.CertificateVerificationError
	var alert tls.AlertError
	var header tls.RecordHeaderError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknownAuthority):
		return "the server's certificate is signed by an unknown authority", true
	case errors.As(err, &hostname):
		return oneLine(hostname.Error()), true
	case errors.As(err, &invalid):
		return oneLine(invalid.Error()), true
	case errors.As(err, &verify):
		return oneLine(verify.Err.Error()), true
	case errors.As(err, &alert):
		return "the server ended the handshake: " + oneLine(alert.Error()), true
	case errors.As(err, &header):
		return "the server does not speak TLS", true
	}
	return "", false
}

// logOrStderr is where Resolve says what it did; as Options.Log, nil means
// os.Stderr.
func logOrStderr(w io.Writer) io.Writer {
	if w == nil {
		return os.Stderr
	}
	return w
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
