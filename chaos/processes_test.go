package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/tftest"
)

// binary is the hearth binary the suite runs, built once.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hearth-chaos-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "hearth")
	if out, err := exec.Command("go", "build", "-o", binary, "../cmd/hearth").CombinedOutput(); err != nil {
		panic("build hearth: " + string(out))
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// process is one of the deployment's processes, restartable with the same arguments.
type process struct {
	t    *testing.T
	name string
	args []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func newProcess(t *testing.T, dir, name string, args ...string) *process {
	p := &process{t: t, name: name, args: args, log: filepath.Join(dir, name+".log")}
	t.Cleanup(func() { p.kill() })
	return p
}

// start runs the process, its output appended to its log file.
func (p *process) start() {
	p.t.Helper()
	out, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	require.NoError(p.t, err)
	cmd := exec.Command(binary, p.args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "HEARTH_LOG_LEVEL=info")
	require.NoError(p.t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = out.Close()
		close(done)
	}()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

// kill ends the process at once (SIGKILL), as a crash or the OOM killer would.
func (p *process) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// stop asks the process to shut down (SIGINT) and waits for it, killing it after a minute.
func (p *process) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(time.Minute):
		p.t.Errorf("%s did not stop within a minute of SIGINT", p.name)
		_ = cmd.Process.Kill()
		<-done
	}
}

// tail is the process's log (its last 64 KiB), for checks and failure messages.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 64<<10 {
		b = b[len(b)-64<<10:]
	}
	return string(b)
}

// waitHealthy waits until a replica answers its liveness check.
func waitHealthy(t *testing.T, p *process, url string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(url + "/healthz") //nolint:noctx // a test's poll
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		require.True(t, time.Now().Before(deadline), "%s did not come up:\n%s", p.name, p.tail())
		time.Sleep(50 * time.Millisecond)
	}
}

// api calls the deployment as a user, on any replica that answers: it moves on when one cannot be
// reached and waits out 503s (with their Retry-After), counting what it met.
type api struct {
	urls  []string
	token string
	hc    *http.Client

	mu            sync.Mutex
	next          int
	unavailable   int // 503s
	noRetryAfter  int // 503s without Retry-After
	serverErrors  []string
	requests      int
	connectErrors int
}

func (a *api) do(ctx context.Context, method, path, body string) (int, map[string]any, error) {
	for {
		a.mu.Lock()
		url := a.urls[a.next%len(a.urls)]
		a.requests++
		a.mu.Unlock()
		req, err := http.NewRequestWithContext(ctx, method, url+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if a.token != "" {
			req.Header.Set("Authorization", "Bearer "+a.token)
		}
		res, err := a.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return 0, nil, ctx.Err()
			}
			a.mu.Lock()
			a.connectErrors++
			a.next++
			a.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable {
			a.mu.Lock()
			a.unavailable++
			wait := 500 * time.Millisecond
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, 2*time.Second)
			} else {
				a.noRetryAfter++
			}
			a.next++
			a.mu.Unlock()
			select {
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if res.StatusCode >= 500 {
			a.mu.Lock()
			a.serverErrors = append(a.serverErrors, fmt.Sprintf("%s %s: %d %s", method, path, res.StatusCode, raw))
			a.mu.Unlock()
		}
		var v map[string]any
		_ = json.Unmarshal(raw, &v)
		return res.StatusCode, v, nil
	}
}

// must calls and requires a status below 300.
func (a *api) must(t *testing.T, method, path, body string) map[string]any {
	t.Helper()
	status, v, err := a.do(context.Background(), method, path, body)
	require.NoError(t, err)
	require.Less(t, status, 300, "%s %s: %v", method, path, v)
	return v
}

// upload stores a directory's files as a template archive and returns the file ID.
func (a *api) upload(t *testing.T, dir string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "POST", a.urls[0]+"/api/v2/files", bytes.NewReader(tftest.Tar(t, dir)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set("Authorization", "Bearer "+a.token)
	res, err := a.hc.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var f struct{ ID string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&f))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	return f.ID
}

// applies reads the template's log of applies: for each build, the work directories it started in
// and whether it got to the end.
type applies struct {
	started  map[string][]string // build -> job directories
	finished map[string]bool
}

func readApplies(t *testing.T, path string) applies {
	t.Helper()
	a := applies{started: map[string][]string{}, finished: map[string]bool{}}
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return a
	}
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		switch f[0] {
		case "start":
			a.started[f[1]] = append(a.started[f[1]], f[2])
		case "done":
			a.finished[f[1]] = true
		}
	}
	return a
}

// applying returns a build the worker whose work directory is under dir is applying now (started,
// not finished), or "".
func (a applies) applying(dir string) string {
	for b, dirs := range a.started {
		if !a.finished[b] && strings.HasPrefix(dirs[len(dirs)-1], dir+string(filepath.Separator)) {
			return b
		}
	}
	return ""
}

// leftovers lists the processes the template leaves in Terraform's process group that still run.
func leftovers() []int {
	var pids []int
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && bytes.Equal(cmdline, []byte("sleep\x0030.123\x00")) && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func zombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] == 'Z'
}
