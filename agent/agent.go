package agent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// Config configures an agent.
type Config struct {
	// URL is the control plane's access URL; Token the agent's token from its build.
	URL   string
	Token string
	// Ready, when set, is called once the agent has its manifest.
	Ready func(client.WorkspaceManifest)
	// PTYReconnectWindow is how long a web terminal's shell outlives its last connection, waiting
	// to be reattached; 5 minutes when zero.
	PTYReconnectWindow time.Duration
	// ShutdownTimeout bounds the shutdown scripts; 5 minutes when zero.
	ShutdownTimeout time.Duration
	// ExitWithDir, when set, stops the agent once that directory is gone (ExitWithDirEnv).
	ExitWithDir string
	Logger      *slog.Logger
}

// agent is a running agent.
type agent struct {
	cfg      Config
	api      *client.ClientWithResponses
	manifest client.WorkspaceManifest
	// token is the agent's current token: a claimed prebuild's agent is handed a new one.
	token atomic.Pointer[string]
	// env is the environment of sessions and scripts (replaced when a prebuild is claimed); dir
	// their working directory.
	env atomic.Pointer[[]string]
	dir string
	log *logUploader

	// loginReady is closed when the startup scripts that block login are done.
	loginReady chan struct{}
	ptys       *ptys
	stats      stats
	// tailnet is the agent's WireGuard node, once it has one.
	tailnet atomic.Pointer[tailnet.Conn]
}

// stats counts connections for the stats report.
type stats struct {
	sessionsSSH, sessionsPTY, sessionsTCP atomic.Int64
	rx, tx, total                         atomic.Int64
}

// Run authenticates with the agent's token, fetches its manifest (retrying with backoff: the agent
// usually starts while its build is still applying, before the server knows its token), opens its
// tunnel, runs its startup scripts and reports its lifecycle, metadata, app health and statistics;
// when ctx ends (SIGTERM), it runs the shutdown scripts and returns.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Token == "" {
		return errors.New("agent: no token: set CODER_AGENT_TOKEN or HEARTH_AGENT_TOKEN")
	}
	if cfg.PTYReconnectWindow == 0 {
		cfg.PTYReconnectWindow = 5 * time.Minute
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Minute
	}
	if cfg.ExitWithDir != "" {
		ctx = untilGone(ctx, cfg.ExitWithDir, cfg.Logger)
	}
	a := &agent{cfg: cfg, loginReady: make(chan struct{})}
	a.token.Store(&cfg.Token)
	c, err := client.NewClientWithResponses(strings.TrimSuffix(cfg.URL, "/"),
		client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("User-Agent", "hearth-agent/"+buildinfo.Version())
			r.Header.Set("Hearth-Agent-Token", a.currentToken())
			return nil
		}))
	if err != nil {
		return err
	}
	a.api = c
	if dir, ok := os.LookupEnv("TMPDIR"); ok {
		// A TMPDIR that is gone (a provisioner's job directory) breaks everything that makes a
		// temporary file, here (SSH agent forwarding) and in sessions; without it they use /tmp.
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			_ = os.Unsetenv("TMPDIR")
		}
	}
	m, err := a.fetchManifest(ctx)
	if m == nil {
		return err
	}
	a.manifest = *m
	env := sessionEnv(*m)
	a.env.Store(&env)
	bin := filepath.Join(scriptDataRoot(*m), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil { //nolint:gosec // scripts' own tools
		cfg.Logger.Warn("agent: cannot make CODER_SCRIPT_BIN_DIR", "error", err)
	} else if err := linkCoder(bin); err != nil {
		cfg.Logger.Warn("agent: cannot put the coder command on the PATH: templates' coder stat metadata will fail", "error", err)
	}
	a.dir = expandDir(m.Directory)
	if a.dir != "" {
		if err := os.MkdirAll(a.dir, 0o755); err != nil { //nolint:gosec // the workspace's own directory
			cfg.Logger.Warn("agent: cannot make the directory", "directory", a.dir, "error", err)
			a.dir = ""
		}
	}
	a.ptys = newPTYs(a, cfg.PTYReconnectWindow)
	cfg.Logger.Info("agent: ready", "agent", m.AgentName, "workspace", m.WorkspaceName, "agent_id", m.AgentId)
	if cfg.Ready != nil {
		cfg.Ready(*m)
	}

	var wg sync.WaitGroup
	loops, stopLoops := context.WithCancel(ctx)
	defer stopLoops()
	a.log = newLogUploader(a)
	wg.Go(func() { a.log.run(loops) })
	wg.Go(func() { a.tunnelLoop(loops) })
	wg.Go(func() { a.tailnetLoop(loops) })
	wg.Go(func() { a.metadataLoop(loops) })
	wg.Go(func() { a.appHealthLoop(loops) })
	wg.Go(func() { a.statsLoop(loops) })
	wg.Go(func() { a.resourcesLoop(loops) })
	wg.Go(func() { a.cronLoop(loops) })
	wg.Go(func() { a.serveLocal(loops, socketPath(*m)) })
	a.startup(ctx)

	<-ctx.Done()
	cfg.Logger.Info("agent: stopping")
	a.shutdown(context.WithoutCancel(ctx))
	a.ptys.closeAll()
	stopLoops()
	wg.Wait()
	a.log.flush(context.WithoutCancel(ctx))
	return nil
}

// currentToken is the token the agent authenticates with now.
func (a *agent) currentToken() string { return *a.token.Load() }

// sessionEnv is the environment new sessions and scripts start with.
func (a *agent) sessionEnv() []string { return append([]string{}, *a.env.Load()...) }

// fetchManifest asks for the manifest until it comes or ctx ends (nil, nil).
func (a *agent) fetchManifest(ctx context.Context) (*client.WorkspaceManifest, error) {
	backoff := newBackoff()
	// A container often starts before its build has finished: its token is accepted once the build's
	// result is stored, a fraction of a second later, so it is asked about often at first.
	pending := time.Now().Add(10 * time.Second)
	for {
		res, err := a.api.GetWorkspaceAgentManifestWithResponse(ctx, &client.GetWorkspaceAgentManifestParams{})
		if err == nil && res.StatusCode() == http.StatusUnauthorized && time.Now().Before(pending) {
			if !sleep(ctx, 50*time.Millisecond) {
				return nil, nil
			}
			continue
		}
		switch {
		case ctx.Err() != nil:
			return nil, nil //nolint:nilerr // stopped while waiting: not an error
		case err != nil:
			a.cfg.Logger.Warn("agent: cannot reach the control plane; retrying", "error", err, "in", backoff.d)
		case res.StatusCode() == http.StatusUnauthorized:
			a.cfg.Logger.Info("agent: the token is not accepted (yet: the build may still be running); retrying", "in", backoff.d)
		case res.JSON200 != nil:
			return res.JSON200, nil
		default:
			a.cfg.Logger.Warn("agent: the manifest could not be fetched; retrying", "error", client.Check(res.HTTPResponse, res.Body), "in", backoff.d)
		}
		if !backoff.wait(ctx) {
			return nil, nil
		}
	}
}

// reportLifecycle tells the control plane the agent's state, retrying a few times.
func (a *agent) reportLifecycle(ctx context.Context, state client.LifecycleInputBodyState) {
	a.cfg.Logger.Info("agent: lifecycle", "state", state)
	for range 5 {
		res, err := a.api.ReportWorkspaceAgentLifecycleWithResponse(ctx, &client.ReportWorkspaceAgentLifecycleParams{},
			client.ReportWorkspaceAgentLifecycleJSONRequestBody{State: state})
		if err == nil && res.StatusCode() < 300 {
			return
		}
		if err == nil {
			err = client.Check(res.HTTPResponse, res.Body)
		}
		a.cfg.Logger.Warn("agent: reporting the lifecycle failed", "state", state, "error", err)
		if err != nil && res != nil && res.StatusCode() == http.StatusUnauthorized {
			return // the token is no longer accepted: asking again will not change that
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// backoff doubles a delay from 500 ms up to 30 s.
type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 500 * time.Millisecond} }

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (b *backoff) reset() { b.d = 500 * time.Millisecond }

// wait sleeps the current delay and doubles it; false if ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 30*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// sessionEnv is the environment of sessions and scripts: the agent's own without its token, the
// template's env, and the variables Coder's agents set.
func sessionEnv(m client.WorkspaceManifest) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CODER_AGENT_TOKEN", "HEARTH_AGENT_TOKEN", "CODER_AGENT_TOKEN_FILE":
			continue
		}
		env = append(env, kv)
	}
	for k, v := range m.Env {
		env = append(env, k+"="+v)
	}
	env = append(env, "CODER=true", "HEARTH=true", "CODER_WORKSPACE_NAME="+m.WorkspaceName,
		"CODER_WORKSPACE_AGENT_NAME="+m.AgentName)
	if m.OwnerName != "" {
		env = append(env, "CODER_WORKSPACE_OWNER_NAME="+m.OwnerName)
	}
	// Scripts install tools into CODER_SCRIPT_BIN_DIR, which is on every session's PATH.
	bin := filepath.Join(scriptDataRoot(m), "bin")
	for i, kv := range env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			env[i] = "PATH=" + bin + string(os.PathListSeparator) + p
		}
	}
	env = append(env, "CODER_SCRIPT_BIN_DIR="+bin, SocketEnv+"="+socketPath(m))
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GIT_SSH_COMMAND=") }) {
		// Git over SSH offers the owner's Git SSH key (hearth publickey), unless the template or
		// the environment chose another command.
		env = append(env, "GIT_SSH_COMMAND="+filepath.Join(bin, "coder")+" gitssh --")
	}
	if len(m.ExternalAuth) > 0 {
		env = gitCredentialEnv(env, filepath.Join(bin, "coder"))
	}
	return env
}

// gitCredentialEnv makes Git ask the coder command for credentials of the template's external auth
// providers: as a credential helper (added through GIT_CONFIG_COUNT, after any the environment
// already sets, so `git config credential.helper` shows it) and as GIT_ASKPASS.
func gitCredentialEnv(env []string, coder string) []string {
	n := 0
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GIT_CONFIG_COUNT="); ok {
			if c, err := strconv.Atoi(v); err == nil && c > 0 {
				n = c
			}
			env = append(env[:i:i], env[i+1:]...)
			break
		}
	}
	k := strconv.Itoa(n)
	return append(env, "GIT_CONFIG_COUNT="+strconv.Itoa(n+1), "GIT_CONFIG_KEY_"+k+"=credential.helper",
		"GIT_CONFIG_VALUE_"+k+"="+coder+" git-credential", "GIT_ASKPASS="+coder)
}

// linkCoder makes bin/coder a link to the agent's own binary, which answers Coder's in-workspace
// commands (coder stat …) when called so. A coder already there (a script installed Coder's CLI) stays.
func linkCoder(bin string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	link := filepath.Join(bin, "coder")
	if target, err := os.Readlink(link); err == nil {
		if target == self {
			return nil
		}
		if _, err := os.Stat(target); err == nil && !strings.Contains(filepath.Base(target), "hearth") {
			return nil // someone else's coder
		}
		_ = os.Remove(link) // a link to an agent binary that is gone or older
	} else if _, err := os.Lstat(link); err == nil {
		return nil // a real file: Coder's own CLI
	}
	return os.Symlink(self, link)
}

// scriptDataRoot is where the agent's scripts keep their data: CODER_SCRIPT_BIN_DIR and each
// script's CODER_SCRIPT_DATA_DIR, under the temporary directory, one per agent.
func scriptDataRoot(m client.WorkspaceManifest) string {
	return filepath.Join(os.TempDir(), "hearth-script-data", m.AgentId)
}

// expandDir expands ~ and environment variables in the agent's directory.
func expandDir(dir string) string {
	if dir == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(dir, "~"); ok {
		home, _ := os.UserHomeDir()
		dir = home + rest
	}
	return os.ExpandEnv(dir)
}

// workDir is where sessions start: the agent's directory, else the home directory.
func (a *agent) workDir() string {
	if a.dir != "" {
		return a.dir
	}
	home, _ := os.UserHomeDir()
	return home
}
