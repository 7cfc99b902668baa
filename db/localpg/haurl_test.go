package localpg

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestHAURLSkipsAFrozenMember: a new connection through the pair's URL
// whose first host is frozen (its kernel accepts the connection, nothing
// answers the startup, as a SIGSTOPped PostgreSQL does) goes on to the
// next host instead of waiting there until the client's own deadline.
// The first host is a listener that never answers; the second a real
// server.
func TestHAURLSkipsAFrozenMember(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	frozen, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close()
	// Accepted and held, never answered.
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := frozen.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	u := &urlWithHosts{
		password: s.opts.Password,
		hosts:    frozen.Addr().String() + "," + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())),
		database: "postgres",
	}
	// Far longer than HAConnectTimeout: only a URL without a bound per
	// host waits this long.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect through %s, its first host frozen: %v", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	if got := conn.PgConn().Conn().RemoteAddr().String(); got != net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())) {
		t.Errorf("connected to %s, want the answering server", got)
	}
}
