package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/cliconfig"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// The keeper is a process of the CLI's own that keeps its WireGuard nodes up between commands. The
// first hearth ssh (or port-forward) of a session starts one in the background and connects as
// before; the next ones connect through it, over a Unix socket in the config directory, and skip
// starting a node, coordinating and handshaking. It serves one session (deployment and token) of
// one user, and exits once no command has used it for its keep time, when the session's socket
// or the config directory goes away, or when asked for another session.

// KeepEnv is how long the keeper stays after the last connection through it (a Go duration;
// default 10m). 0 turns it off: each command starts its own node.
const KeepEnv = "HEARTH_TAILNET_KEEP"

// DefaultKeep is the keeper's stay after its last connection.
const DefaultKeep = 10 * time.Minute

// KeeperCommand is the hidden CLI command that runs a keeper.
const KeeperCommand = "tailnet-keeper"

// keepFor is the keep time the environment asks for.
func keepFor() time.Duration {
	v := os.Getenv(KeepEnv)
	if v == "" {
		return DefaultKeep
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return DefaultKeep
	}
	return d
}

// keeperRequest asks the keeper for a connection to an agent's tailnet port.
type keeperRequest struct {
	// Session names the session the command runs as (sessionTag): a keeper of another one refuses.
	Session string `json:"session"`
	Agent   string `json:"agent"`
	Port    uint16 `json:"port"`
	// WaitMS bounds the keeper's attempt, as the command's mode bounds its own.
	WaitMS int64 `json:"wait_ms"`
}

// sessionTag names a session without its secret: a hash of its URL and token.
func sessionTag(s cliconfig.Session) string {
	h := sha256.Sum256([]byte(s.URL + "\n" + s.Token))
	return hex.EncodeToString(h[:8])
}

// keeperSocket is where the keeper of session s listens: in the config directory, or (when that
// path is too long for a Unix socket) in a directory of this user's own under the temp directory.
func keeperSocket(s cliconfig.Session) (string, error) {
	dir, err := cliconfig.Dir()
	if err != nil {
		return "", err
	}
	name := "keeper-" + sessionTag(s) + ".sock"
	if p := filepath.Join(dir, name); len(p) < 100 {
		return p, nil
	}
	tmp := filepath.Join(os.TempDir(), "hearth-"+strconv.Itoa(os.Getuid()))
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", err
	}
	// Someone else's directory, or one others may write to, is not ours to listen in.
	fi, err := os.Lstat(tmp)
	if err != nil {
		return "", err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || !fi.IsDir() || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is not a directory of this user's alone", tmp)
	}
	return filepath.Join(tmp, name), nil
}

// errNoKeeper means no keeper serves the session now.
var errNoKeeper = errors.New("connect: no keeper")

// dialKeeper asks the session's keeper for a connection to port on the agent.
func dialKeeper(ctx context.Context, s cliconfig.Session, agentID string, port uint16, wait time.Duration) (net.Conn, error) {
	path, err := keeperSocket(s)
	if err != nil {
		return nil, errNoKeeper
	}
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", path)
	if err != nil {
		return nil, errNoKeeper
	}
	_ = c.SetDeadline(time.Now().Add(wait + 5*time.Second))
	var rep tunnel.Reply
	err = tunnel.Write(c, keeperRequest{Session: sessionTag(s), Agent: agentID, Port: port, WaitMS: wait.Milliseconds()})
	if err == nil {
		err = tunnel.Read(c, &rep)
	}
	if err == nil && rep.Error != "" {
		err = errors.New(rep.Error)
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("the CLI's keeper: %w", err)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// startKeeper starts the session's keeper in the background, warming a node for the agent. It
// outlives this command: its own session, no terminal, nothing of this process's output.
func startKeeper(s cliconfig.Session, agentID string, keep time.Duration) {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.Command(exe, KeeperCommand, "--agent", agentID) //nolint:gosec,noctx // this binary, outliving the command
	cmd.Env = append(os.Environ(), "HEARTH_URL="+s.URL, "HEARTH_SESSION_TOKEN="+s.Token, KeepEnv+"="+keep.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		_ = cmd.Process.Release()
	}
}

// Keeper serves the session's connections over the nodes it keeps, until it has been idle for its
// keep time or its socket is gone. warm, when set, is an agent to start a node for at once.
func Keeper(ctx context.Context, s cliconfig.Session, warm string, log *slog.Logger) error {
	keep := keepFor()
	if keep == 0 {
		return errors.New("the keeper is off (" + KeepEnv + "=0)")
	}
	path, err := keeperSocket(s)
	if err != nil {
		return err
	}
	if c, err := (&net.Dialer{}).DialContext(ctx, "unix", path); err == nil {
		_ = c.Close()
		return nil // one runs already
	}
	_ = os.Remove(path) // a dead keeper's
	ln, err := (&net.ListenConfig{}).Listen(ctx, "unix", path)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }()
	_ = os.Chmod(path, 0o600)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	k := &keeper{s: s, tag: sessionTag(s), log: log, nodes: map[uuid.UUID]*Tailnet{}, used: time.Now(), stop: cancel}
	defer k.closeAll()
	if id, err := uuid.Parse(warm); err == nil {
		go func() { _, _ = k.node(ctx, id) }()
	}
	go k.watch(ctx, path, keep)
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go k.serve(ctx, c)
	}
}

type keeper struct {
	s    cliconfig.Session
	tag  string
	log  *slog.Logger
	stop context.CancelFunc

	mu    sync.Mutex
	nodes map[uuid.UUID]*Tailnet
	open  int
	used  time.Time
}

// watch stops the keeper once it was idle for keep, or its socket (or the directory holding it)
// is gone or another's.
func (k *keeper) watch(ctx context.Context, path string, keep time.Duration) {
	first, err := os.Stat(path)
	if err != nil {
		k.stop()
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now, err := os.Stat(path)
		k.mu.Lock()
		idle := k.open == 0 && time.Since(k.used) > keep
		k.mu.Unlock()
		if err != nil || !os.SameFile(first, now) || idle {
			k.stop()
			return
		}
	}
}

// node is the keeper's node for the agent, started if it has none (or its coordination ended).
func (k *keeper) node(ctx context.Context, agentID uuid.UUID) (*Tailnet, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if tn := k.nodes[agentID]; tn != nil {
		select {
		case <-tn.done:
			tn.Close()
			delete(k.nodes, agentID)
		default:
			return tn, nil
		}
	}
	tn, err := OpenTailnet(ctx, k.s, agentID, k.log)
	if err != nil {
		return nil, err
	}
	k.nodes[agentID] = tn
	return tn, nil
}

func (k *keeper) serve(ctx context.Context, c net.Conn) {
	k.mu.Lock()
	k.open++
	k.used = time.Now()
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.open--
		k.used = time.Now()
		k.mu.Unlock()
	}()
	fail := func(msg string) {
		_ = tunnel.Write(c, tunnel.Reply{Error: msg})
		_ = c.Close()
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var req keeperRequest
	if err := tunnel.Read(c, &req); err != nil {
		_ = c.Close()
		return
	}
	if req.Session != k.tag {
		// The command runs as another session (signed in again, another deployment): this keeper
		// is no longer of use.
		fail("this keeper serves another session")
		k.stop()
		return
	}
	id, err := uuid.Parse(req.Agent)
	if err != nil {
		fail("not an agent ID: " + req.Agent)
		return
	}
	wait := time.Duration(req.WaitMS) * time.Millisecond
	if wait <= 0 || wait > DialWait {
		wait = DialWait
	}
	dctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tn, err := k.node(dctx, id)
	var conn net.Conn
	if err == nil {
		conn, err = tn.Dial(dctx, req.Port)
	}
	if err != nil {
		fail(err.Error())
		return
	}
	if tunnel.Write(c, tunnel.Reply{}) != nil {
		_ = c.Close()
		_ = conn.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	tunnel.Pipe(c, conn)
}

func (k *keeper) closeAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, tn := range k.nodes {
		tn.Close()
		delete(k.nodes, id)
	}
}
