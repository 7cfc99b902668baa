package localpg

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The durability modes of StartHA, named as operators know them (Oracle
// Data Guard's protection modes) and mapped to Patroni's settings.
const (
	// Async is Patroni's default: a commit is acknowledged once the
	// primary has it; a failover may promote a standby that lacks it.
	Async = "async"
	// RemoteWrite is synchronous_mode with synchronous_commit =
	// remote_write: a commit waits until the standby has written it to
	// its operating system, not until it flushed it to disk. A dead
	// primary loses nothing; a standby whose machine dies at the same
	// moment may. Patroni stops waiting when the standby is unhealthy, as
	// in Sync.
	RemoteWrite = "remote_write"
	// Sync is synchronous_mode: a commit waits for the standby while one
	// is healthy; Patroni stops waiting when it is not.
	Sync = "sync"
	// Strict is synchronous_mode_strict: no commit is acknowledged that
	// the standby lacks; writes block while it is down.
	Strict = "strict"
)

// Durabilities lists the modes StartHA accepts.
var Durabilities = []string{Async, RemoteWrite, Sync, Strict}

// ErrNoHA is returned when Patroni or etcd is not installed. One line.
var ErrNoHA = errors.New("no patroni and etcd found: install them (apt-get install patroni etcd-server)")

// haPaths are where Debian puts the binaries, tried after PATH.
var haPaths = map[string][]string{
	"patroni": {"/usr/bin/patroni", "/usr/local/bin/patroni"},
	"etcd":    {"/usr/bin/etcd", "/usr/local/bin/etcd"},
}

// FindHA returns the paths of the patroni and etcd executables, or an
// error wrapping ErrNoHA naming what is missing.
func FindHA() (patroni, etcd string, err error) {
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, p := range haPaths[name] {
			if isExecutable(p) {
				return p
			}
		}
		return ""
	}
	patroni, etcd = find("patroni"), find("etcd")
	if patroni == "" || etcd == "" {
		return "", "", ErrNoHA
	}
	return patroni, etcd, nil
}

// HAOptions configures StartHA.
type HAOptions struct {
	// Durability is one of Durabilities; "" means Async.
	Durability string
	// Database is created on the primary (and so on the standby);
	// "" means evento.
	Database string
	// Durable keeps fsync on, as Options.Durable does for one server;
	// when false it is off (the lab kills processes, not machines).
	Durable bool
	// MaxConnections sets max_connections on both members; 0 means 200.
	MaxConnections int
	// Log receives the one-line notice that the stack is up; nil means
	// os.Stderr.
	Log io.Writer
}

// HA is a throwaway replicated PostgreSQL: one etcd and two Patroni
// processes, each managing a PostgreSQL, all on loopback, all removed by
// Stop. The superuser "postgres" has a random password, as on Start's
// clusters; so do the replication user and Patroni's REST API.
type HA struct {
	opts         HAOptions
	account      *account
	runDir       string
	password     string // the superuser's
	replPassword string // the replication user's
	apiAuth      string // user:password of Patroni's REST API, for its unsafe endpoints
	etcd         *daemon
	members      []*haMember
	client       *http.Client

	patroni, etcdBinary, binDir string
	etcdPort, etcdPeerPort      int

	stopOnce sync.Once
	stopErr  error
}

// haMember is one Patroni and the PostgreSQL it manages.
type haMember struct {
	name    string
	dir     string // its configuration, log and data
	pgPort  int
	apiPort int
	patroni *daemon
}

// Patroni's timing: the leader key lives haTTL seconds, so a dead
// primary is replaced within about that long.
const (
	haTTL          = 6
	haLoopWait     = 1
	haRetryTimeout = 2
	haReadyTimeout = 90 * time.Second
)

// StartHA starts etcd and two Patroni members, waits until one leads and
// the other streams from it (and, in the synchronous modes, is its
// synchronous standby), and creates the database. ctx bounds only the
// startup; the caller must call Stop on every exit path. A member that
// lost the race for the port picked for it (another process bound it
// first) is not retried by Patroni on another port, so the whole pair
// starts again on new ones, as a single server does (startAttempts).
func StartHA(ctx context.Context, o HAOptions) (h *HA, err error) {
	for range startAttempts {
		if h, err = startPair(ctx, o); !errors.Is(err, errPortTaken) {
			break
		}
	}
	return h, err
}

func startPair(ctx context.Context, o HAOptions) (_ *HA, err error) {
	if o.Durability == "" {
		o.Durability = Async
	}
	if !slices.Contains(Durabilities, o.Durability) {
		return nil, fmt.Errorf("durability %q: want one of %s", o.Durability, strings.Join(Durabilities, ", "))
	}
	if o.Database == "" {
		o.Database = defaultDatabase
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = defaultMaxConnections
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	h := &HA{opts: o, password: rand.Text(), replPassword: rand.Text(), apiAuth: "evento:" + rand.Text(), client: &http.Client{Timeout: 2 * time.Second}}
	if h.patroni, h.etcdBinary, err = FindHA(); err != nil {
		return nil, err
	}
	if h.binDir, err = FindBinDir(); err != nil {
		return nil, err
	}
	if h.account, err = serverAccount(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = h.Stop() // the startup error is the one worth reporting
		}
	}()
	removeLeftovers(shortTempDir(), o.Log)
	if h.runDir, err = os.MkdirTemp(shortTempDir(), "evento-ha-"); err != nil {
		return nil, fmt.Errorf("ha: create temp dir: %w", err)
	}
	if err := writeOwner(h.runDir); err != nil {
		return nil, err
	}
	if err := h.account.chown(h.runDir); err != nil {
		return nil, err
	}
	if err := h.account.checkCanReach(h.runDir); err != nil {
		return nil, err
	}
	ports := make([]int, 6)
	for i := range ports {
		if ports[i], err = pickPort(); err != nil {
			return nil, err
		}
	}
	h.etcdPort, h.etcdPeerPort = ports[0], ports[1]
	if err := h.startEtcd(ctx); err != nil {
		return nil, err
	}
	for i := range 2 {
		m := &haMember{name: fmt.Sprintf("pg%d", i+1), dir: filepath.Join(h.runDir, fmt.Sprintf("pg%d", i+1)), pgPort: ports[2+2*i], apiPort: ports[3+2*i]}
		if err := os.Mkdir(m.dir, 0o700); err != nil {
			return nil, fmt.Errorf("ha: %w", err)
		}
		if err := h.account.chown(m.dir); err != nil {
			return nil, err
		}
		h.members = append(h.members, m)
	}
	for _, m := range h.members {
		if err := h.startPatroni(m); err != nil {
			return nil, err
		}
	}
	readyCtx, cancel := context.WithTimeout(ctx, haReadyTimeout)
	defer cancel()
	if err := h.waitStarted(readyCtx); err != nil {
		return nil, err
	}
	primary, err := h.Primary(ctx)
	if err != nil {
		return nil, err
	}
	if err := EnsureDatabase(ctx, h.memberURL(primary, o.Database)); err != nil {
		return nil, err
	}
	// A client of the multi-host URL may try the standby first, and pgx
	// gives up on "database does not exist" rather than try the next
	// host: wait until the standby has replayed the CREATE DATABASE.
	if err := h.waitDatabaseEverywhere(readyCtx); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, "evento: started throwaway PostgreSQL pair under Patroni (%s replication) at %s, primary %s (data in %s; removed on exit)\n",
		o.Durability, h.url(o.Database).Redacted(), primary, h.runDir)
	return h, nil
}

func (h *HA) waitDatabaseEverywhere(ctx context.Context) error {
	for _, m := range h.members {
		for {
			conn, err := pgx.Connect(ctx, h.memberURL(m.name, h.opts.Database))
			if err == nil {
				_ = conn.Close(ctx)
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("database %s on %s: %w (%v)", h.opts.Database, m.name, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// startEtcd starts the one-member etcd Patroni keeps its leader key in,
// and waits until it answers.
func (h *HA) startEtcd(ctx context.Context) error {
	dir := filepath.Join(h.runDir, "etcd")
	client := "http://127.0.0.1:" + strconv.Itoa(h.etcdPort)
	peer := "http://127.0.0.1:" + strconv.Itoa(h.etcdPeerPort)
	d, err := startDaemon("etcd", h.runDir, filepath.Join(h.runDir, "etcd.log"), h.account, nil, h.etcdBinary,
		"--name", "evento", "--data-dir", dir,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "evento="+peer,
		// A throwaway etcd: no fsync to wait for.
		"--unsafe-no-fsync",
		// Patroni talks to it through the v2 API (patroniConfig says why).
		"--enable-v2=true")
	if err != nil {
		return err
	}
	h.etcd = d
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := h.client.Get(client + "/health")
		if err == nil {
			var health struct{ Health string }
			err = json.NewDecoder(resp.Body).Decode(&health)
			resp.Body.Close()
			if err == nil && health.Health == "true" {
				return nil
			}
		}
		if !d.running() || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("etcd did not become healthy (%v); last log lines:\n%s", err, tailFile(d.log, 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// patroniConfig is member m's patroni.yml, as JSON (which YAML reads).
func (h *HA) patroniConfig(m *haMember) ([]byte, error) {
	user, pass, _ := strings.Cut(h.apiAuth, ":")
	hba := []string{
		"local all all scram-sha-256",
		"host all all 127.0.0.1/32 scram-sha-256",
		"local replication replicator scram-sha-256",
		"host replication replicator 127.0.0.1/32 scram-sha-256",
	}
	cfg := map[string]any{
		"scope":     "evento",
		"namespace": "/evento/",
		"name":      m.name,
		"restapi": map[string]any{
			"listen":          "127.0.0.1:" + strconv.Itoa(m.apiPort),
			"connect_address": "127.0.0.1:" + strconv.Itoa(m.apiPort),
			// Switchover and restart need the password; reading the
			// cluster's state does not.
			"authentication": map[string]any{"username": user, "password": pass},
		},
		// etcd's v2 API, not etcd3: Patroni 3.0.2's etcd3 client renews
		// a leader key whose lease expired with an unconditional put. An
		// old primary frozen in the middle of its loop (pause-primary)
		// then overwrote, when it woke, the key the standby had taken
		// meanwhile, and went on leading on its old timeline while the
		// standby had been promoted to a new one: the pair never streamed
		// again (fixed upstream in Patroni 3.0.3). The v2 client renews
		// the key only while it still names this member (prevValue).
		"etcd": map[string]any{"hosts": []string{"127.0.0.1:" + strconv.Itoa(h.etcdPort)}},
		"bootstrap": map[string]any{
			"dcs": map[string]any{
				"ttl": haTTL, "loop_wait": haLoopWait, "retry_timeout": haRetryTimeout,
				"synchronous_mode":        h.opts.Durability != Async,
				"synchronous_mode_strict": h.opts.Durability == Strict,
				"postgresql": map[string]any{
					"use_pg_rewind": true,
					"use_slots":     true,
					"parameters": map[string]any{
						"max_connections": h.opts.MaxConnections,
						"shared_buffers":  "128MB",
						"wal_level":       "replica",
						"hot_standby":     "on",
						"wal_log_hints":   "on", // pg_rewind needs it
						"max_wal_senders": 5, "max_replication_slots": 5,
						// synchronous_commit stays on (or remote_write)
						// whatever Durable says: without it a killed
						// primary loses commits it acknowledged before the
						// WAL left its memory, and sync replication waits
						// for nothing.
						"synchronous_commit": synchronousCommit(h.opts.Durability),
						"fsync":              h.opts.Durable,
					},
				},
			},
			"initdb": []any{map[string]any{"encoding": "UTF8"}, map[string]any{"locale": "C"}, "no-sync"},
		},
		"postgresql": map[string]any{
			"listen":          "127.0.0.1:" + strconv.Itoa(m.pgPort),
			"connect_address": "127.0.0.1:" + strconv.Itoa(m.pgPort),
			"data_dir":        filepath.Join(m.dir, "data"),
			"bin_dir":         h.binDir,
			"pgpass":          filepath.Join(m.dir, "pgpass"),
			"authentication": map[string]any{
				"superuser":   map[string]any{"username": "postgres", "password": h.password},
				"replication": map[string]any{"username": "replicator", "password": h.replPassword},
			},
			// Both sockets in the run directory: only the account may
			// enter it, and the leftovers sweep finds their lock files.
			"parameters": map[string]any{"unix_socket_directories": h.runDir},
			"pg_hba":     hba,
			// A rejoining old primary whose history diverged is rebuilt
			// rather than left out of the pair.
			"remove_data_directory_on_rewind_failure":     true,
			"remove_data_directory_on_diverged_timelines": true,
		},
		"watchdog": map[string]any{"mode": "off"},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// synchronousCommit is PostgreSQL's synchronous_commit for a durability
// mode: what a commit waits for once it waits for a standby at all.
func synchronousCommit(durability string) string {
	if durability == RemoteWrite {
		return "remote_write"
	}
	return "on"
}

// startPatroni writes member m's configuration and starts its Patroni,
// which starts (or bootstraps, or clones) its PostgreSQL.
func (h *HA) startPatroni(m *haMember) error {
	cfg, err := h.patroniConfig(m)
	if err != nil {
		return err
	}
	path := filepath.Join(m.dir, "patroni.yml")
	// 0600 and the account's: it holds the passwords.
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		return fmt.Errorf("ha: write %s: %w", path, err)
	}
	if err := h.account.chown(path); err != nil {
		return err
	}
	// HOME and TMPDIR private to the member: Patroni writes its initdb
	// password file in TMPDIR.
	env := []string{"HOME=" + m.dir, "TMPDIR=" + m.dir, "PYTHONDONTWRITEBYTECODE=1"}
	d, err := startDaemon("patroni "+m.name, m.dir, filepath.Join(m.dir, "patroni.log"), h.account, env, h.patroni, path)
	if err != nil {
		return err
	}
	m.patroni = d
	return nil
}

// URL is the URL clients use: both members, and target_session_attrs=
// read-write, so that a client connects to whichever is the primary
// (docs/failover.md says why no proxy). A secret, like Server.URL.
func (h *HA) URL(database string) string { return h.url(database).String() }

func (h *HA) url(database string) *urlWithHosts {
	hosts := make([]string, len(h.members))
	for i, m := range h.members {
		hosts[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(m.pgPort))
	}
	return &urlWithHosts{password: h.password, hosts: strings.Join(hosts, ","), database: database}
}

// urlWithHosts is a multi-host URL; net/url would keep it, but
// Redacted is easier to get right by hand.
type urlWithHosts struct{ password, hosts, database string }

// HAConnectTimeout bounds each member's share of a new connection through
// the pair's URL (connect_timeout, per host in pgx). A frozen member (paused,
// or a machine that stopped answering) accepts the TCP connection in its
// kernel and never answers the startup; without a bound a client that
// tries it first waits there until its own deadline and never reaches the
// primary. Two seconds leave, within a server's 5 s --query-timeout, the
// time to try the other member.
const HAConnectTimeout = 2 * time.Second

func (u *urlWithHosts) query() string {
	return "?sslmode=disable&target_session_attrs=read-write&connect_timeout=" + strconv.Itoa(int(HAConnectTimeout/time.Second))
}

func (u *urlWithHosts) String() string {
	return "postgres://postgres:" + u.password + "@" + u.hosts + "/" + u.database + u.query()
}

func (u *urlWithHosts) Redacted() string {
	return "postgres://postgres:xxxxx@" + u.hosts + "/" + u.database + u.query()
}

// memberURL is the URL of one member alone.
func (h *HA) memberURL(name, database string) string {
	m := h.member(name)
	if m == nil {
		return ""
	}
	return loopbackURL("postgres", h.password, m.pgPort, database).String()
}

// MemberURL is the URL of the named member alone, e.g. for the final
// reads against the primary.
func (h *HA) MemberURL(name string) string { return h.memberURL(name, h.opts.Database) }

func (h *HA) member(name string) *haMember {
	for _, m := range h.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

// Durability is the replication mode the stack runs in.
func (h *HA) Durability() string { return h.opts.Durability }

// Dir is the stack's private directory, which Stop removes.
func (h *HA) Dir() string { return h.runDir }

// Stop stops both Patroni processes (each stops its PostgreSQL), then
// etcd, killing what does not stop in time, and removes the directory.
// Idempotent and safe from several goroutines.
func (h *HA) Stop() error {
	h.stopOnce.Do(func() { h.stopErr = h.stop() })
	return h.stopErr
}

func (h *HA) stop() error {
	var wg sync.WaitGroup
	for _, m := range h.members {
		if m.patroni == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.resumeMember(m) // a paused member would never hear SIGTERM
			_ = m.patroni.terminate(20 * time.Second)
			// Patroni killed before its PostgreSQL stopped leaves it
			// behind, and with it the files we are about to delete.
			h.killPostgres(m)
		}()
	}
	wg.Wait()
	if h.etcd != nil {
		_ = h.etcd.terminate(5 * time.Second)
	}
	if h.runDir != "" {
		if err := os.RemoveAll(h.runDir); err != nil {
			return fmt.Errorf("remove %s: %w", h.runDir, err)
		}
	}
	return nil
}
