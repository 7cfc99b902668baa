package localpg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// The operations a lab performs on the pair. Like the faults on Server,
// one caller (the nemesis) uses them, never concurrently with each other
// or with Stop.

// haMemberState is one entry of Patroni's GET /cluster.
type haMemberState struct {
	Name  string `json:"name"`
	Role  string `json:"role"`  // leader, replica, sync_standby
	State string `json:"state"` // running, streaming, starting, stopped, ...
}

// clusterState asks any member's Patroni that answers for the pair's
// state, as Patroni keeps it in etcd.
func (h *HA) clusterState(ctx context.Context) ([]haMemberState, error) {
	var lastErr error = errors.New("no Patroni running")
	for _, m := range h.members {
		if m.patroni == nil || !m.patroni.running() {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, m.api("/cluster"), nil)
		resp, err := h.client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		var body struct{ Members []haMemberState }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			lastErr = fmt.Errorf("patroni %s: GET /cluster: %w", m.name, err)
			continue
		}
		return body.Members, nil
	}
	return nil, lastErr
}

func (m *haMember) api(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(m.apiPort) + path
}

// Primary names the member Patroni says leads and runs.
func (h *HA) Primary(ctx context.Context) (string, error) {
	members, err := h.clusterState(ctx)
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if m.Role == "leader" && m.State == "running" {
			return m.Name, nil
		}
	}
	return "", errors.New("no primary")
}

// WaitHealthy waits until a primary runs and the other member streams
// from it (and, in the synchronous modes, is its synchronous standby),
// and returns the primary's name.
func (h *HA) WaitHealthy(ctx context.Context) (string, error) {
	var why string
	for {
		primary, ok, reason := h.healthy(ctx)
		if ok {
			return primary, nil
		}
		why = reason
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the PostgreSQL pair did not become healthy (%s): %w%s", why, ctx.Err(), h.logTails())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitStarted is WaitHealthy for a pair just started, which gives up at
// once when a member could not bind its port: Patroni would retry the
// same port for ever.
func (h *HA) waitStarted(ctx context.Context) error {
	for {
		if _, ok, _ := h.healthy(ctx); ok {
			return nil
		}
		for _, m := range h.members {
			log, _ := os.ReadFile(filepath.Join(m.dir, "patroni.log"))
			if bytes.Contains(log, []byte("could not create any TCP/IP sockets")) || bytes.Contains(log, []byte("Address already in use")) {
				return fmt.Errorf("ha member %s: %w", m.name, errPortTaken)
			}
		}
		select {
		case <-ctx.Done():
			_, err := h.WaitHealthy(ctx) // says why, with the logs
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (h *HA) healthy(ctx context.Context) (primary string, ok bool, why string) {
	members, err := h.clusterState(ctx)
	if err != nil {
		return "", false, err.Error()
	}
	standbyRole := "replica"
	if h.opts.Durability != Async {
		standbyRole = "sync_standby"
	}
	var standby bool
	for _, m := range members {
		switch {
		case m.Role == "leader" && m.State == "running":
			primary = m.Name
		case m.Role == standbyRole && (m.State == "running" || m.State == "streaming"):
			standby = true
		}
	}
	if primary == "" || !standby {
		return "", false, fmt.Sprintf("members %+v", members)
	}
	// Patroni's word is a few seconds old; the primary's own is not.
	// Bounded: a frozen member accepts the connection and never answers.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, h.memberURL(primary, "postgres"))
	if err != nil {
		return "", false, err.Error()
	}
	defer conn.Close(ctx)
	var streaming int
	// A standby is of use only once it streams the WAL.
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'`).Scan(&streaming); err != nil {
		return "", false, err.Error()
	}
	if streaming == 0 {
		return "", false, "no standby streaming yet"
	}
	return primary, true, ""
}

// logTails is the end of every member's Patroni log, for errors.
func (h *HA) logTails() string {
	var b strings.Builder
	for _, m := range h.members {
		fmt.Fprintf(&b, "\n%s's last log lines:\n%s", m.name, tailFile(filepath.Join(m.dir, "patroni.log"), 8))
	}
	return b.String()
}

// postmaster returns the PID of member m's postmaster, from its lock file.
func (m *haMember) postmaster() (int, bool) {
	pid, ok := firstLinePID(filepath.Join(m.dir, "data", "postmaster.pid"))
	return pid, ok && runs(pid)
}

// killPostgres SIGKILLs member m's PostgreSQL, every process of it, as a
// machine that dies would: no shutdown, no backend left to answer, and
// none left holding its port (a child that outlived the postmaster would
// keep the new one from binding it).
func (h *HA) killPostgres(m *haMember) {
	dir := filepath.Join(m.dir, "data")
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		pids := processesIn(dir)
		if pid, ok := m.postmaster(); ok {
			pids = append(pids, pid) // where there is no /proc
		}
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Failover kills the primary as a dying machine would (its Patroni and
// its PostgreSQL, SIGKILL), waits until Patroni promotes the standby, then
// starts the old primary's Patroni again, which rejoins it as a standby
// (pg_rewind, or a new copy), and waits until the pair is healthy. It
// returns the old primary, the new one, and how long no primary ran.
func (h *HA) Failover(ctx context.Context) (old, new string, down time.Duration, err error) {
	if old, err = h.Primary(ctx); err != nil {
		return "", "", 0, fmt.Errorf("failover: %w", err)
	}
	m := h.member(old)
	killed := time.Now()
	// Patroni first: it would restart its PostgreSQL in place.
	m.patroni.kill()
	h.killPostgres(m)
	for {
		new, err = h.Primary(ctx)
		if err == nil && new != old {
			break
		}
		select {
		case <-ctx.Done():
			return old, "", 0, fmt.Errorf("failover: no new primary after killing %s: %w%s", old, ctx.Err(), h.logTails())
		case <-time.After(50 * time.Millisecond):
		}
	}
	down = time.Since(killed)
	if err := h.startPatroni(m); err != nil {
		return old, new, down, err
	}
	if _, err := h.WaitHealthy(ctx); err != nil {
		return old, new, down, fmt.Errorf("failover: %s did not rejoin: %w", old, err)
	}
	return old, new, down, nil
}

// LagThenFailover lets the standby fall behind for lag, then fails the
// primary over (Failover): what the primary committed meanwhile never
// reached the standby. It freezes the primary's WAL sender (SIGSTOP)
// rather than the standby's WAL receiver: a frozen receiver still finds,
// when it wakes, everything the sender wrote into the socket's buffers,
// which on loopback hold megabytes, and would lose nothing. In the
// synchronous modes commits wait instead of going on without the standby.
func (h *HA) LagThenFailover(ctx context.Context, lag time.Duration) (old, new string, down time.Duration, err error) {
	if old, err = h.Primary(ctx); err != nil {
		return "", "", 0, fmt.Errorf("failover: %w", err)
	}
	senders := h.walSenders(h.member(old))
	if len(senders) == 0 {
		return old, "", 0, fmt.Errorf("failover: %s has no WAL sender to pause", old)
	}
	for _, pid := range senders {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	time.Sleep(lag)
	return h.Failover(ctx)
}

// walSenders lists the WAL sender processes of member m's PostgreSQL,
// found by their process titles ("postgres: evento: walsender ...";
// Patroni sets cluster_name).
func (h *HA) walSenders(m *haMember) []int {
	pid, ok := m.postmaster()
	if !ok {
		return nil
	}
	children, _ := childProcesses(pid)
	var senders []int
	for _, c := range children {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c))
		if strings.Contains(string(cmdline), " walsender ") {
			senders = append(senders, c)
		}
	}
	return senders
}

// Switchover asks Patroni for a planned switchover to the standby and
// waits until the pair is healthy again the other way round. It returns
// the new primary.
func (h *HA) Switchover(ctx context.Context) (string, error) {
	old, err := h.Primary(ctx)
	if err != nil {
		return "", fmt.Errorf("switchover: %w", err)
	}
	var candidate string
	for _, m := range h.members {
		if m.name != old {
			candidate = m.name
		}
	}
	body, _ := json.Marshal(map[string]string{"leader": old, "candidate": candidate})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.member(old).api("/switchover"), bytes.NewReader(body))
	user, pass, _ := strings.Cut(h.apiAuth, ":")
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	// Patroni answers once the switchover is done: longer than a GET.
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("switchover: %w", err)
	}
	msg := new(bytes.Buffer)
	_, _ = msg.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("switchover from %s to %s: Patroni answered %s: %s", old, candidate, resp.Status, strings.TrimSpace(msg.String()))
	}
	for {
		primary, err := h.WaitHealthy(ctx)
		if err != nil {
			return "", fmt.Errorf("switchover: %w", err)
		}
		if primary == candidate {
			return primary, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PausePrimary freezes the primary's Patroni and PostgreSQL (SIGSTOP)
// for at least d, longer than the leader key lives, and until Patroni has
// promoted the standby; then lets them go on (SIGCONT). The old primary
// wakes up still believing it leads, until its Patroni finds the key
// taken and demotes it: connections it already had may write there
// meanwhile. It waits until the pair is healthy again and returns the old
// primary, the new one and how long the old one stayed frozen.
//
// Why not d alone: before it takes the expired key, the standby's Patroni
// asks the primary's REST API whether it still runs, and waits seconds for
// a frozen one's answer; a primary that wakes up meanwhile answers "alive",
// keeps the key, and the pause ends without a failover.
func (h *HA) PausePrimary(ctx context.Context, d time.Duration) (old, new string, frozen time.Duration, err error) {
	if old, err = h.Primary(ctx); err != nil {
		return "", "", 0, fmt.Errorf("pause primary: %w", err)
	}
	m := h.member(old)
	paused := time.Now()
	h.signalMember(m, syscall.SIGSTOP)
	time.Sleep(d)
	if d >= haTTL*time.Second {
		err = h.waitForOtherLeader(ctx, old, promoteBound)
	}
	h.resumeMember(m)
	frozen = time.Since(paused)
	if err != nil {
		return old, "", frozen, fmt.Errorf("pause primary: %w", err)
	}
	for {
		new, err = h.WaitHealthy(ctx)
		if err != nil {
			return old, "", frozen, fmt.Errorf("pause primary: %w", err)
		}
		// A pause shorter than the leader key's life is a stall: the
		// same primary goes on.
		if new != old || d < haTTL*time.Second {
			return old, new, frozen, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// promoteBound is how long a frozen primary waits for Patroni to promote
// the other member, past the pause asked for.
const promoteBound = 30 * time.Second

// waitForOtherLeader waits until Patroni names a running leader other
// than old, for at most bound.
func (h *HA) waitForOtherLeader(ctx context.Context, old string, bound time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		if p, err := h.Primary(ctx); err == nil && p != old {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no member promoted while %s was frozen: %w%s", old, ctx.Err(), h.logTails())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// StallStandby freezes the standby's Patroni and PostgreSQL (SIGSTOP)
// for d, then lets them go on: a synchronous primary's commits wait for
// it meanwhile. It returns the standby's name once the pair is healthy.
func (h *HA) StallStandby(ctx context.Context, d time.Duration) (string, error) {
	standby, resume, err := h.FreezeStandby(ctx)
	if err != nil {
		return "", fmt.Errorf("stall standby: %w", err)
	}
	time.Sleep(d)
	resume()
	if _, err := h.WaitHealthy(ctx); err != nil {
		return standby, fmt.Errorf("stall standby: %w", err)
	}
	return standby, nil
}

// FreezeStandby freezes the standby's Patroni and PostgreSQL (SIGSTOP)
// until resume is called, for a test that steps through what a
// synchronous primary does meanwhile. It returns the standby's name.
// Stop resumes it too.
func (h *HA) FreezeStandby(ctx context.Context) (standby string, resume func(), err error) {
	primary, err := h.Primary(ctx)
	if err != nil {
		return "", nil, err
	}
	var m *haMember
	for _, c := range h.members {
		if c.name != primary {
			m = c
		}
	}
	h.signalMember(m, syscall.SIGSTOP)
	return m.name, func() { h.resumeMember(m) }, nil
}

// signalMember sends sig to member m's Patroni, its postmaster and the
// postmaster's children.
func (h *HA) signalMember(m *haMember, sig syscall.Signal) {
	if m.patroni != nil && m.patroni.running() {
		_ = syscall.Kill(m.patroni.cmd.Process.Pid, sig)
	}
	if pid, ok := m.postmaster(); ok {
		_ = syscall.Kill(pid, sig)
		children, _ := childProcesses(pid)
		for _, c := range children {
			_ = syscall.Kill(c, sig)
		}
	}
}

func (h *HA) resumeMember(m *haMember) { h.signalMember(m, syscall.SIGCONT) }
