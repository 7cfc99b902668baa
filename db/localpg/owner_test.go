package localpg

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A throwaway server is reachable by every user of the machine over
// 127.0.0.1: it must let in only whoever holds its URL. Before, any local
// user logged in as its superuser (trust), over TCP without a password.
func TestThrowawayClusterAdmitsOnlyItsOwner(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	s := startServer(t, Options{})
	owner := s.URL("postgres")
	if cfg, err := pgx.ParseConfig(owner); err != nil || len(cfg.Password) < 26 {
		t.Fatalf("the owner's URL holds no random password (%v)", err)
	}
	conn := connect(t, ctx, owner)
	if got := queryString(t, ctx, conn, "select rolname from pg_roles where rolsuper and rolname = current_user"); got != "postgres" {
		t.Fatalf("the owner is %q, want the superuser postgres", got)
	}

	// The socket's directory is the server's OS user's alone.
	fi, err := os.Stat(s.runDir)
	if err != nil {
		t.Fatal(err)
	}
	wantUID := uint32(os.Geteuid())
	if s.account != nil {
		wantUID = s.account.uid
	}
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o700 || st.Uid != wantUID {
		t.Errorf("socket directory %s: mode %v, owner %d; want 0700 and uid %d", s.runDir, fi.Mode().Perm(), st.Uid, wantUID)
	}

	for name, url := range map[string]string{
		"TCP, no password":       withoutPassword(t, owner, ""),
		"TCP, a wrong password":  withoutPassword(t, owner, "guess"),
		"socket, no password":    withoutPassword(t, owner, "") + "&host=" + s.runDir,
		"socket, wrong password": withoutPassword(t, owner, "guess") + "&host=" + s.runDir,
	} {
		if code := loginCode(ctx, url); code != pgerrcode.InvalidPassword {
			t.Errorf("%s: login gave %q, want SQLSTATE %s (refused)", name, code, pgerrcode.InvalidPassword)
		}
	}

	// Another user of the machine: nobody, through the test binary itself.
	if os.Geteuid() != 0 {
		return
	}
	for _, line := range loginAsNobody(t, withoutPassword(t, owner, ""), s.runDir) {
		switch {
		case strings.HasPrefix(line, "tcp ") && line != "tcp "+pgerrcode.InvalidPassword:
			t.Errorf("nobody over 127.0.0.1 without the password: %s; want SQLSTATE %s", line, pgerrcode.InvalidPassword)
		case strings.HasPrefix(line, "socket ") && line != "socket EACCES":
			t.Errorf("nobody through the socket: %s; want EACCES on its directory", line)
		}
	}
}

// withoutPassword is url with password in place of its own ("": none).
func withoutPassword(t *testing.T, raw, password string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return loopbackURL(cfg.User, password, int(cfg.Port), cfg.Database).String()
}

// loginCode is the SQLSTATE of a failed login to url, "ok" when it
// succeeded, and the error's description when no server answered.
func loginCode(ctx context.Context, url string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		_ = conn.Close(ctx)
		return "ok"
	case errors.As(err, &pgErr):
		return pgErr.Code
	case errors.Is(err, syscall.EACCES):
		return "EACCES"
	}
	return err.Error()
}

// loginAsNobody runs this test binary as the user nobody, trying url over
// TCP and through the socket in socketDir, and returns what it said: a
// line "tcp CODE" and a line "socket CODE" (loginCode's).
func loginAsNobody(t *testing.T, url, socketDir string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// go test's own directory is private to root: a copy nobody may run.
	dir, err := os.MkdirTemp("", "evento-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "localpg.test")
	if err := copyExecutable(self, bin); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestLoginAttemptHelper$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LOCALPG_LOGIN_ATTEMPT_URL="+url, "LOCALPG_LOGIN_ATTEMPT_SOCKET="+socketDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var lines []string
	for line := range strings.Lines(string(out)) {
		if strings.HasPrefix(line, "tcp ") || strings.HasPrefix(line, "socket ") {
			lines = append(lines, strings.TrimSpace(line))
		}
	}
	if err != nil || len(lines) != 2 {
		t.Fatalf("the login attempt as nobody: %v; it said:\n%s", err, out)
	}
	return lines
}

func copyExecutable(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// TestLoginAttemptHelper is loginAsNobody's other half; it does nothing
// in a normal run.
func TestLoginAttemptHelper(t *testing.T) {
	url := os.Getenv("LOCALPG_LOGIN_ATTEMPT_URL")
	if url == "" {
		t.Skip("run by TestThrowawayClusterAdmitsOnlyItsOwner only")
	}
	ctx := testCtx(t)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	out.WriteString("tcp " + loginCode(ctx, url) + "\n")
	out.WriteString("socket " + loginCode(ctx, url+"&host="+os.Getenv("LOCALPG_LOGIN_ATTEMPT_SOCKET")) + "\n")
}
