package localpg

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// account is the unprivileged user that runs initdb and postgres when we
// are root: PostgreSQL refuses to run as root, on purpose.
type account struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
}

// serverAccount returns nil when the current user can run PostgreSQL
// itself, and otherwise the `postgres` user, or `nobody` if that is missing.
func serverAccount() (*account, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var lookupErr error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			lookupErr = err
			continue
		}
		return newAccount(u)
	}
	return nil, fmt.Errorf("running as root, and no unprivileged user (postgres or nobody) to run PostgreSQL as: %w", lookupErr)
}

func newAccount(u *user.User) (*account, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", u.Username, u.Gid, err)
	}
	a := &account{name: u.Username, uid: uint32(uid), gid: uint32(gid)}
	ids, _ := u.GroupIds() // supplementary groups are a nicety; the primary group suffices
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			a.groups = append(a.groups, uint32(g))
		}
	}
	return a, nil
}

// sysProcAttr describes how initdb and postgres are spawned. Their own
// process group keeps a terminal Ctrl-C from reaching postgres before we
// shut it down cleanly ourselves.
func sysProcAttr(a *account) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(attr, syscall.SIGQUIT)
	if a != nil {
		attr.Credential = &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
	}
	return attr
}

// chown hands path to the account; a nil account means nothing to do.
func (a *account) chown(path string) error {
	if a == nil {
		return nil
	}
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("give %s to user %s: %w", path, a.name, err)
	}
	return nil
}

// checkCanReach reports, as one line naming the offending directory,
// whether the account cannot walk down to dir: the error postgres would give
// later ("could not change directory ... Permission denied") hides which
// ancestor is at fault.
func (a *account) checkCanReach(dir string) error {
	if a == nil {
		return nil
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var chain []string
	for p := dir; ; p = filepath.Dir(p) {
		chain = append(chain, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	slices.Reverse(chain)
	for _, p := range chain {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !a.canSearch(fi) {
			return fmt.Errorf("directory %s is not accessible to user %s (uid %d), who must run PostgreSQL because it refuses to run as root: allow it (chmod o+x %s) or choose another directory", p, a.name, a.uid, p)
		}
	}
	return nil
}

// canSearch applies the POSIX rule: only the first class that matches
// (owner, group, other) counts.
func (a *account) canSearch(fi os.FileInfo) bool {
	perm := fi.Mode().Perm()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return perm&0o001 != 0
	}
	switch {
	case st.Uid == a.uid:
		return perm&0o100 != 0
	case st.Gid == a.gid || slices.Contains(a.groups, st.Gid):
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}
