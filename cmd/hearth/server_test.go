package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tailnet"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hearth-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "hearth")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("build hearth: " + string(out))
	}
	// Beside it, as go tool task build places it, the agent that servers hand to workspaces.
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, "hearth-agent"), "../hearth-agent").CombinedOutput(); err != nil {
		panic("build hearth-agent: " + string(out))
	}
	defer os.RemoveAll(dir)
	// WireGuard paths stay on loopback: CLIs started here take it from the environment, servers
	// as their --tailnet-endpoints, which they tell their agents (which Terraform starts without
	// HEARTH_* variables). Each server's STUN server takes a port of its own.
	_ = os.Setenv(tailnet.EndpointsEnv, "127.0.0.0/8,::1/128")
	_ = os.Setenv("HEARTH_STUN_ADDRESS", "127.0.0.1:0")
	dbtest.Main(m)
}

type running struct {
	cmd *exec.Cmd
	url string
}

// startServer runs the real binary and waits for it to print where it is ready.
func startServer(t testing.TB, args ...string) *running {
	t.Helper()
	return startServerCmd(t, exec.Command(binary, append([]string{"server", "--http-address", "127.0.0.1:0"}, args...)...))
}

// startServerCmd starts a server's command line prepared elsewhere (inside a network namespace, say).
func startServerCmd(t testing.TB, cmd *exec.Cmd) *running {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "HEARTH_LOG_LEVEL=warn")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	r := &running{cmd: cmd}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Hearth is ready at "); ok {
				ready <- u
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case r.url = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("server did not become ready")
	}
	return r
}

// healthy polls the deep health check until it answers 200 and returns the report.
func (r *running) healthy(t *testing.T) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(r.url + "/api/v2/health")
		require.NoError(t, err)
		var body map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return body
		}
		require.True(t, time.Now().Before(deadline), "not healthy: %v", body)
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *running) interrupt(t *testing.T) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	require.NoError(t, r.cmd.Wait(), "a clean shutdown exits 0")
}

// postgresUsing lists the PostgreSQL processes whose command line names dir.
func postgresUsing(dir string) []string {
	var found []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "postgres") && strings.Contains(string(b), dir) {
			found = append(found, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return found
}

func TestEmbeddedServerStopsPostgresAndKeepsData(t *testing.T) {
	t.Parallel()
	dir := dbtest.TempDir(t)
	srv := startServer(t, "--data-dir", dir)
	first := srv.healthy(t)

	res, err := http.Get(srv.url + "/api/v2/openapi.json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&doc))
	res.Body.Close()
	require.Equal(t, "3.1.0", doc["openapi"])

	require.NotEmpty(t, postgresUsing(dir))
	srv.interrupt(t)
	require.Empty(t, postgresUsing(dir), "no PostgreSQL process outlives the server")

	srv = startServer(t, "--data-dir", dir)
	second := srv.healthy(t)
	require.Equal(t, first["deployment_id"], second["deployment_id"], "the restarted server uses the same data")
	srv.interrupt(t)
}

func TestTwoServersStartTogetherOnOneDatabase(t *testing.T) {
	t.Parallel()
	url := dbtest.NewEmptyURL(t)
	servers := make(chan *running, 2)
	for range 2 {
		go func() { servers <- startServer(t, "--postgres-url", url) }()
	}
	a, b := <-servers, <-servers
	ha, hb := a.healthy(t), b.healthy(t)
	require.Equal(t, ha["deployment_id"], hb["deployment_id"])
	a.interrupt(t)
	b.interrupt(t)
}

func TestUsageErrorsExitWithTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"server", "--no-such-flag"},
		{"server", "--log-format", "xml"},
		{"openapi", "--format", "toml"},
	} {
		cmd := exec.Command(binary, args...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%v", args)
		require.Equal(t, exitUsage, exit.ExitCode(), "%v: %s", args, out)
		require.True(t, strings.HasPrefix(string(out), "hearth: "), "%v: one clear line: %s", args, out)
	}
}

func TestUnreachableDatabaseIsAClearError(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "server", "--http-address", "127.0.0.1:0",
		"--postgres-url", "postgres://nobody:hunter2@127.0.0.1:1/hearth?connect_timeout=2").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "127.0.0.1:1")
	require.NotContains(t, string(out), "hunter2", "the password is never printed")
}

// BenchmarkColdStart measures a server start with an existing embedded cluster, from exec to a
// healthy /api/v2/health, and a clean stop.
func BenchmarkColdStart(b *testing.B) {
	dir, err := os.MkdirTemp("", "hearth-bench-")
	require.NoError(b, err)
	defer os.RemoveAll(dir)
	require.NoError(b, os.Chmod(dir, 0o711))
	run := func() time.Duration {
		start := time.Now()
		cmd := exec.Command(binary, "server", "--http-address", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
		stdout, err := cmd.StdoutPipe()
		require.NoError(b, err)
		require.NoError(b, cmd.Start())
		sc := bufio.NewScanner(stdout)
		var url string
		for url == "" && sc.Scan() {
			url, _ = strings.CutPrefix(sc.Text(), "Hearth is ready at ")
		}
		require.NotEmpty(b, url)
		for {
			res, err := http.Get(url + "/api/v2/health")
			require.NoError(b, err)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(start)
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
		require.NoError(b, cmd.Process.Signal(syscall.SIGINT))
		require.NoError(b, cmd.Wait())
		return elapsed
	}
	first := run() // includes initdb
	b.ResetTimer()
	var total time.Duration
	for range b.N {
		total += run()
	}
	b.ReportMetric(first.Seconds()*1000, "first-start-ms")
	b.ReportMetric(total.Seconds()*1000/float64(b.N), "cold-start-ms")
}
