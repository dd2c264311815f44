// Package pgembed runs a private PostgreSQL cluster from the system's server binaries, as a supervised
// child of the calling process: it is initialized on first use, listens only on a unix socket in a
// directory no other user can reach, and cannot outlive its parent.
package pgembed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// superuser is the role initdb creates; trust authentication on a private socket makes it passwordless.
const superuser = "hearth"

// port only names the socket file (.s.PGSQL.5432): the cluster never listens on TCP.
const port = 5432

// Config describes an embedded cluster.
type Config struct {
	// Dir holds the cluster's files; it is created and initialized when it holds no cluster yet.
	Dir string
	// BinDir, when set, is where initdb and postgres are; otherwise they are looked up (FindBinaries).
	BinDir string
	// Database is created on first start when missing; default "hearth".
	Database string
	// RunAs is the unprivileged user PostgreSQL runs as when the caller is root (initdb and postgres
	// refuse to run as root). Default: "postgres" when that user exists, else "nobody".
	RunAs string
	// Settings are extra server settings passed as -c name=value.
	Settings map[string]string
	// NoSync skips initdb's fsync, for throwaway clusters in tests.
	NoSync bool
	// Logger receives PostgreSQL's own warnings and errors.
	Logger *slog.Logger
}

// Cluster is a running embedded PostgreSQL.
type Cluster struct {
	cfg     Config
	cmd     *exec.Cmd
	sockDir string
	tmpSock bool
	done    chan struct{}
	tail    *tail
	ready   atomic.Bool
	stop    sync.Once
}

// Start initializes the cluster if needed, starts postgres and waits until it accepts connections
// and the configured database exists.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Database == "" {
		cfg.Database = "hearth"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: data directory: %w", err)
	}
	cfg.Dir = dir
	bins, err := FindBinaries(cfg.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := credential(cfg.RunAs)
	if err != nil {
		return nil, err
	}
	if err := prepareDir(cfg.Dir, cred); err != nil {
		return nil, err
	}
	c := &Cluster{cfg: cfg, done: make(chan struct{}), tail: newTail(30)}
	if err := c.initdb(ctx, bins, cred); err != nil {
		return nil, err
	}
	if err := removeStaleLock(cfg.Dir); err != nil {
		return nil, err
	}
	if err := c.chooseSocketDir(cred); err != nil {
		return nil, err
	}
	if err := c.run(bins, cred); err != nil {
		c.cleanup()
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		_ = c.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return c, nil
}

// URL is a connection string for the configured database.
func (c *Cluster) URL() string { return c.urlFor(c.cfg.Database) }

func (c *Cluster) urlFor(database string) string {
	q := url.Values{"host": {c.sockDir}, "port": {fmt.Sprint(port)}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User(superuser), Path: "/" + database, RawQuery: q.Encode()}).String()
}

// Done is closed when the postgres process has exited, for whatever reason.
func (c *Cluster) Done() <-chan struct{} { return c.done }

// Stop asks PostgreSQL for a fast shutdown (SIGINT: roll back open transactions, checkpoint, exit),
// escalating to an immediate shutdown and then SIGKILL if ctx ends first.
func (c *Cluster) Stop(ctx context.Context) error {
	c.stop.Do(func() {
		defer c.cleanup()
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
			return
		case <-ctx.Done():
		}
		c.cfg.Logger.Warn("postgres did not stop in time; forcing an immediate shutdown")
		_ = c.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	})
	return nil
}

func (c *Cluster) cleanup() {
	if c.tmpSock {
		_ = os.RemoveAll(c.sockDir)
	}
}

func (c *Cluster) initdb(ctx context.Context, bins Binaries, cred *syscall.Credential) error {
	if _, err := os.Stat(filepath.Join(c.cfg.Dir, "PG_VERSION")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(c.cfg.Dir)
	if err != nil {
		return fmt.Errorf("pgembed: read %s: %w", c.cfg.Dir, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("pgembed: %s is not empty but holds no PostgreSQL cluster (no PG_VERSION): move its contents away or choose another data directory", c.cfg.Dir)
	}
	args := []string{"-D", c.cfg.Dir, "-U", superuser, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions"}
	if c.cfg.NoSync {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, bins.InitDB, args...)
	cmd.Env = childEnv()
	cmd.Dir = c.cfg.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	dieWithParent(cmd.SysProcAttr, syscall.SIGKILL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// A half-initialized directory would block the next attempt; it holds nothing of value yet.
		cleanDir(c.cfg.Dir)
		return fmt.Errorf("pgembed: initdb %s: %w: %s", c.cfg.Dir, err, strings.TrimSpace(string(out)))
	}
	c.cfg.Logger.Info("initialized embedded PostgreSQL cluster", "dir", c.cfg.Dir)
	return nil
}

// chooseSocketDir uses the cluster directory itself (private to the cluster's owner) unless its path is
// too long for a unix socket address, in which case a fresh private temporary directory is used.
func (c *Cluster) chooseSocketDir(cred *syscall.Credential) error {
	const maxSockPath = 100 // sun_path is 108 bytes on Linux, including the terminating NUL
	if len(c.cfg.Dir)+len("/.s.PGSQL.5432.lock") < maxSockPath {
		c.sockDir = c.cfg.Dir
		return nil
	}
	d, err := os.MkdirTemp("", "hearth-pg-")
	if err != nil {
		return fmt.Errorf("pgembed: socket directory: %w", err)
	}
	if cred != nil {
		if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgembed: socket directory: %w", err)
		}
	}
	c.sockDir, c.tmpSock = d, true
	return nil
}

func (c *Cluster) run(bins Binaries, cred *syscall.Credential) error {
	args := []string{
		"-D", c.cfg.Dir,
		"-k", c.sockDir,
		"-p", fmt.Sprint(port),
		"-c", "listen_addresses=",
		"-c", "unix_socket_permissions=0700",
		"-c", "log_min_messages=warning",
		"-c", "log_line_prefix=",
	}
	for k, v := range c.cfg.Settings {
		args = append(args, "-c", k+"="+v)
	}
	// No context: the cluster is stopped by Stop, with signals PostgreSQL understands, never killed
	// because some caller's context ended.
	cmd := exec.Command(bins.Postgres, args...) //nolint:noctx // see above
	cmd.Env = childEnv()
	cmd.Dir = c.cfg.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Its own process group: a terminal's Ctrl-C reaches only the server, which then stops
		// the cluster after its own users of it are done.
		Setpgid: true,
	}
	// If this process dies without stopping the cluster, postgres gets an immediate shutdown
	// request instead of living on (on Linux).
	dieWithParent(cmd.SysProcAttr, syscall.SIGQUIT)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgembed: start postgres: %w", err)
	}
	c.cmd = cmd
	go c.logLines(pr)
	go func() {
		_ = cmd.Wait()
		_ = pw.Close()
		close(c.done)
	}()
	return nil
}

// logLines forwards PostgreSQL's output. Only what needs an operator is logged above debug: FATAL and
// PANIC (after start-up, when "the database system is starting up" is expected) and WARNING. ERROR
// lines are the server's own failed statements, which the caller reports with context.
func (c *Cluster) logLines(r io.Reader) {
	sc := bufio.NewScanner(r)
	level := slog.LevelDebug
	for sc.Scan() {
		line := sc.Text()
		c.tail.add(line)
		// Continuation lines (a statement's body) keep the level of the line they continue.
		if !strings.HasPrefix(line, "\t") {
			switch {
			case !c.ready.Load():
				level = slog.LevelDebug
			case strings.HasPrefix(line, "FATAL:"), strings.HasPrefix(line, "PANIC:"):
				level = slog.LevelError
			case strings.HasPrefix(line, "WARNING:"):
				level = slog.LevelWarn
			default:
				level = slog.LevelDebug
			}
		}
		c.cfg.Logger.Log(context.Background(), level, line, "component", "postgres")
	}
	_, _ = io.Copy(io.Discard, r)
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	admin := c.urlFor("postgres")
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			err = ensureDatabase(ctx, conn, c.cfg.Database)
			_ = conn.Close(context.WithoutCancel(ctx))
			c.ready.Store(err == nil)
			return err
		}
		select {
		case <-c.done:
			return fmt.Errorf("pgembed: postgres exited during start-up: %s", c.tail.String())
		case <-ctx.Done():
			return fmt.Errorf("pgembed: postgres not ready: %w (last error: %w)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func ensureDatabase(ctx context.Context, conn *pgx.Conn, name string) error {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("pgembed: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("pgembed: create database %q: %w", name, err)
	}
	return nil
}

// removeStaleLock deletes a postmaster.pid left by a cluster that crashed (or was killed with its
// parent), unless the process it names is still a running postgres: then the data directory is in use.
func removeStaleLock(dir string) error {
	pidFile := filepath.Join(dir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgembed: read %s: %w", pidFile, err)
	}
	first, _, _ := strings.Cut(string(b), "\n")
	var pid int
	if _, err := fmt.Sscan(first, &pid); err == nil && pid > 0 && isPostgres(pid) {
		return fmt.Errorf("pgembed: PostgreSQL (pid %d) is already running on %s: is another hearth server using this data directory?", pid, dir)
	}
	for _, f := range []string{pidFile, filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d.lock", port))} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pgembed: remove stale %s: %w", f, err)
		}
	}
	return nil
}

func isPostgres(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	return strings.Contains(string(cmdline), "postgres")
}

// childEnv is the whole environment PostgreSQL sees: nothing of ours (secrets, PG* variables that
// would redirect it) leaks in.
func childEnv() []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
}

func cleanDir(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// tail keeps the last lines PostgreSQL printed, to explain a failed start.
type tail struct {
	mu    sync.Mutex
	lines []string
	max   int
}

func newTail(n int) *tail { return &tail{max: n} }

func (t *tail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(t.lines, "; ")
}
