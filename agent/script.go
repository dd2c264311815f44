package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hearthdev/hearth/client"
)

// Script outcomes.
var (
	errScriptFailed  = errors.New("script failed")
	errScriptTimeout = errors.New("script timed out")
)

// startup runs the run_on_start scripts, all at once, and reports starting then ready, start_error
// or start_timeout. SSH logins wait for the scripts with start_blocks_login.
func (a *agent) startup(ctx context.Context) {
	a.reportLifecycle(ctx, client.LifecycleInputBodyStateStarting)
	var blocking, other []client.ProvisionerScript
	for _, s := range a.manifest.Scripts {
		switch {
		case !isTrue(s.RunOnStart):
		case isTrue(s.StartBlocksLogin):
			blocking = append(blocking, s)
		default:
			other = append(other, s)
		}
	}
	var mu sync.Mutex
	var failed error
	run := func(list []client.ProvisionerScript, wg *sync.WaitGroup) {
		for _, s := range list {
			wg.Go(func() {
				if err := a.runScript(ctx, s); err != nil {
					mu.Lock()
					if failed == nil || errors.Is(err, errScriptTimeout) {
						failed = err
					}
					mu.Unlock()
				}
			})
		}
	}
	var blockers, rest sync.WaitGroup
	run(blocking, &blockers)
	run(other, &rest)
	blockers.Wait()
	close(a.loginReady)
	rest.Wait()
	a.log.flush(ctx) // the output is there by the time the agent shows ready
	switch {
	case ctx.Err() != nil:
		return
	case errors.Is(failed, errScriptTimeout):
		a.reportLifecycle(ctx, client.LifecycleInputBodyStateStartTimeout)
	case failed != nil:
		a.reportLifecycle(ctx, client.LifecycleInputBodyStateStartError)
	default:
		a.reportLifecycle(ctx, client.LifecycleInputBodyStateReady)
	}
}

// shutdown runs the run_on_stop scripts and reports shutting_down then off, shutdown_error or
// shutdown_timeout.
func (a *agent) shutdown(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
	defer cancel()
	a.reportLifecycle(ctx, client.LifecycleInputBodyStateShuttingDown)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for _, s := range a.manifest.Scripts {
		if !isTrue(s.RunOnStop) {
			continue
		}
		wg.Go(func() {
			if err := a.runScript(ctx, s); err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	a.log.flush(ctx)
	switch {
	case errors.Is(failed, errScriptTimeout):
		a.reportLifecycle(ctx, client.LifecycleInputBodyStateShutdownTimeout)
	case failed != nil:
		a.reportLifecycle(ctx, client.LifecycleInputBodyStateShutdownError)
	default:
		a.reportLifecycle(ctx, client.LifecycleInputBodyStateOff)
	}
}

// cronLoop runs the scripts with a cron schedule (seconds optional: "*/5 * * * * *" or "0 22 * * *").
func (a *agent) cronLoop(ctx context.Context) {
	parser := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	c := cron.New(cron.WithParser(parser))
	for _, s := range a.manifest.Scripts {
		if s.Cron == nil || *s.Cron == "" {
			continue
		}
		if _, err := c.AddFunc(*s.Cron, func() { _ = a.runScript(ctx, s) }); err != nil {
			a.log.add(scriptName(s), "error", fmt.Sprintf("invalid cron schedule %q: %v", *s.Cron, err))
		}
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}

// scriptDir names a script's data directory after the script: letters, digits, - and _ kept.
func scriptDir(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	if b.Len() == 0 || b.String() == "bin" {
		return "script-" + b.String()
	}
	return b.String()
}

func scriptName(s client.ProvisionerScript) string {
	if s.DisplayName != "" {
		return s.DisplayName
	}
	return "script"
}

// runScript runs a script with the shell, its output uploaded line by line (and appended to its
// log_path when set), killed at its timeout.
func (a *agent) runScript(ctx context.Context, s client.ProvisionerScript) error {
	name := scriptName(s)
	if s.TimeoutSeconds != nil && *s.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*s.TimeoutSeconds)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, userShell(), "-c", s.Script) //nolint:gosec // the template's own script
	cmd.Dir = a.workDir()
	data := filepath.Join(scriptDataRoot(a.manifest), scriptDir(name))
	if err := os.MkdirAll(data, 0o700); err != nil {
		a.cfg.Logger.Warn("agent: cannot make CODER_SCRIPT_DATA_DIR", "script", name, "error", err)
	}
	cmd.Env = append(a.sessionEnv(), "CODER_SCRIPT_DATA_DIR="+data)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	r, w := io.Pipe()
	cmd.Stdout, cmd.Stderr = w, w
	var file *os.File
	if s.LogPath != nil && *s.LogPath != "" {
		p := expandDir(*s.LogPath)
		if !filepath.IsAbs(p) {
			p = filepath.Join(os.TempDir(), p)
		}
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil { //nolint:gosec // the template's chosen log file
			file = f
			defer func() { _ = f.Close() }()
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			a.log.add(name, "info", sc.Text())
			if file != nil {
				_, _ = file.WriteString(sc.Text() + "\n")
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	start := time.Now()
	err := cmd.Run()
	_ = w.Close()
	<-done
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		a.log.add(name, "error", fmt.Sprintf("timed out after %s", time.Since(start).Round(time.Millisecond)))
		return errScriptTimeout
	case err != nil:
		a.log.add(name, "error", fmt.Sprintf("exited with %d after %s", exitCode(err), time.Since(start).Round(time.Millisecond)))
		return errScriptFailed
	}
	return nil
}

// logUploader batches script output and uploads it: every 250 ms or 500 lines.
type logUploader struct {
	a *agent
	// flushing serializes flushes: the periodic one and the one at the end of the startup scripts
	// would otherwise upload the same lines and both remove them (which crashed the agent).
	flushing sync.Mutex
	mu       sync.Mutex
	logs     []client.WorkspaceAgentLog
	// dropped counts lines dropped from the front of logs, so a flush removes only what it sent.
	dropped int
	wake    chan struct{}
}

// maxPendingLogs bounds what waits for upload while the control plane is unreachable; older lines
// are dropped first.
const maxPendingLogs = 10000

func newLogUploader(a *agent) *logUploader {
	return &logUploader{a: a, wake: make(chan struct{}, 1)}
}

func (u *logUploader) add(source, level, output string) {
	u.mu.Lock()
	u.logs = append(u.logs, client.WorkspaceAgentLog{CreatedAt: time.Now(), Source: source, Level: client.WorkspaceAgentLogLevel(level), Output: output})
	if over := len(u.logs) - maxPendingLogs; over > 0 {
		u.logs = u.logs[over:]
		u.dropped += over
	}
	full := len(u.logs) >= 500
	u.mu.Unlock()
	if full {
		select {
		case u.wake <- struct{}{}:
		default:
		}
	}
}

func (u *logUploader) run(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-u.wake:
		}
		u.flush(ctx)
	}
}

// flush uploads what is pending, 500 lines a request; lines that fail stay pending.
func (u *logUploader) flush(ctx context.Context) {
	u.flushing.Lock()
	defer u.flushing.Unlock()
	for {
		u.mu.Lock()
		batch := u.logs[:min(len(u.logs), 500)]
		dropped := u.dropped
		u.mu.Unlock()
		if len(batch) == 0 {
			return
		}
		res, err := u.a.api.UploadWorkspaceAgentLogsWithResponse(ctx, &client.UploadWorkspaceAgentLogsParams{},
			client.UploadWorkspaceAgentLogsJSONRequestBody{Logs: batch})
		if err == nil {
			err = client.Check(res.HTTPResponse, res.Body)
		}
		if err != nil {
			u.a.cfg.Logger.Warn("agent: uploading script output failed; will retry", "lines", len(batch), "error", err)
			return
		}
		u.mu.Lock()
		// Lines dropped meanwhile (the front of the queue, while it was full) were part of batch.
		sent := max(0, len(batch)-(u.dropped-dropped))
		u.logs = u.logs[min(sent, len(u.logs)):]
		u.mu.Unlock()
	}
}

func isTrue(b *bool) bool { return b != nil && *b }
