package pgembed

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// credential returns nil when the caller is not root (PostgreSQL then runs as the caller), otherwise
// the unprivileged user PostgreSQL runs as.
func credential(runAs string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	names := []string{runAs}
	if runAs == "" {
		names = []string{"postgres", "nobody"}
	}
	var lastErr error
	for _, name := range names {
		u, err := user.Lookup(name)
		if err != nil {
			lastErr = err
			continue
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, fmt.Errorf("pgembed: running as root, and PostgreSQL refuses to: no unprivileged user to run it as: %w", lastErr)
}

// prepareDir creates the cluster directory (0700, owned by the user PostgreSQL runs as) and checks
// that this user can reach it through every parent directory.
func prepareDir(dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("pgembed: create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("pgembed: create %s: %w", dir, err)
	}
	if cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("pgembed: hand %s to uid %d: %w", dir, cred.Uid, err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
		if !traversable(fi, cred) {
			return fmt.Errorf("pgembed: PostgreSQL runs as uid %d (it refuses to run as root) and cannot reach %s through %s (mode %v): "+
				"choose a data directory outside it (for example --data-dir /var/lib/hearth) or allow traversal with chmod o+x %s",
				cred.Uid, dir, p, fi.Mode().Perm(), p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func traversable(fi os.FileInfo, cred *syscall.Credential) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case st.Uid == cred.Uid:
		return mode&0o100 != 0
	case st.Gid == cred.Gid:
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}
