package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// tarTemplate packs a template directory the way templates push does.
func tarTemplate(t testing.TB, dir string) []byte {
	t.Helper()
	b, err := tarDir(dir)
	require.NoError(t, err)
	return b
}

// signIn creates the first user, ada, with the CLI and returns the CLI and her session token.
func signIn(t testing.TB, url, dir string) (cli, string) {
	t.Helper()
	c := cli{t: t, dir: dir}
	_, errOut, code := c.run("", "login", url, "--first-user-username", "ada", "--first-user-email", "ada@example.com", "--first-user-password", "correct-horse")
	require.Equal(t, 0, code, errOut)
	return c, savedToken(t, c.dir)
}

// savedToken is the session token of the current deployment in a CLI config directory.
func savedToken(t testing.TB, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	var f struct {
		Current     string
		Deployments map[string]struct{ Token string }
	}
	require.NoError(t, json.Unmarshal(raw, &f))
	require.NotEmpty(t, f.Deployments[f.Current].Token)
	return f.Deployments[f.Current].Token
}

// alive reports whether the process in a pid file runs.
func alive(t testing.TB, pidFile string) (int, bool) {
	t.Helper()
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	require.NoError(t, err)
	return pid, syscall.Kill(pid, 0) == nil
}

// The example template, run the way a new user would: the real binary with its built-in workers,
// a workspace whose agent is this same binary, downloaded from the server by the init script.
func TestLocalTemplateWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "data"), "--provisioners", "2",
		"--provider-mirror", tftest.Mirror(t))
	_, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, srv.url+path, token, "application/json", []byte(body))
	}
	wait := func(path string, done func(map[string]any) bool) map[string]any {
		deadline := time.Now().Add(60 * time.Second)
		for {
			v := api("GET", path, "")
			if done(v) {
				return v
			}
			require.True(t, time.Now().Before(deadline), "%s: %v", path, v)
			time.Sleep(50 * time.Millisecond)
		}
	}
	ended := func(v map[string]any) bool {
		return v["status"] == "succeeded" || v["status"] == "failed" || v["status"] == "canceled"
	}

	root := filepath.Join(dir, "workspaces")
	file := callAPI(t, "POST", srv.url+"/api/v2/files", token, "application/x-tar", tarTemplate(t, "../../examples/templates/local"))
	v := api("POST", "/api/v2/template-versions", `{"file_id":"`+file["id"].(string)+`","variables":[{"name":"workspaces_dir","value":"`+root+`"}]}`)
	v = wait("/api/v2/template-versions/"+v["id"].(string), ended)
	require.Equal(t, "succeeded", v["status"], v)
	api("POST", "/api/v2/templates", `{"name":"local","version_id":"`+v["id"].(string)+`"}`)

	ws := api("POST", "/api/v2/workspaces", `{"name":"dev","template":"local","parameters":[{"name":"shell","value":"sh"}]}`)
	id := ws["id"].(string)
	buildOf := func(b map[string]any) string { return "/api/v2/workspacebuilds/" + b["id"].(string) }
	b := wait(buildOf(ws["latest_build"].(map[string]any)), ended)
	require.Equal(t, "succeeded", b["status"], b)

	home := filepath.Join(root, "ada", "dev")
	pidFile := filepath.Join(home, ".hearth", "agent.pid")
	agentLog := filepath.Join(home, ".hearth", "agent.log")
	// The agent downloads itself from the server, then is accepted with the token from the state.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := os.ReadFile(agentLog)
		if strings.Contains(string(out), "agent: ready") {
			break
		}
		require.True(t, time.Now().Before(deadline), "the agent did not start: %s", out)
		time.Sleep(100 * time.Millisecond)
	}
	pid, ok := alive(t, pidFile)
	require.True(t, ok && processRuns(pid), "the agent runs")
	require.NoError(t, os.WriteFile(filepath.Join(home, "notes.txt"), []byte("keep me"), 0o600))

	transition := func(tr string) {
		t.Helper()
		b := api("POST", "/api/v2/workspaces/"+id+"/builds", `{"transition":"`+tr+`"}`)
		b = wait(buildOf(b), ended)
		require.Equal(t, "succeeded", b["status"], b)
	}
	transition("stop")
	require.False(t, processRuns(pid), "stopping ends the agent")
	out, _ := os.ReadFile(agentLog)
	require.Contains(t, string(out), `msg="agent: lifecycle" state=off`)
	require.NotContains(t, string(out), "reporting the lifecycle failed",
		"the agent's token still works while the stop build runs, so it reports its shutdown")
	require.FileExists(t, filepath.Join(home, "notes.txt"), "the home directory survives a stop")
	ws = api("GET", "/api/v2/workspaces/"+id, "")
	require.Equal(t, "stopped", ws["status"])

	transition("start")
	pid, ok = alive(t, pidFile)
	if !ok || !processRuns(pid) {
		out, _ := os.ReadFile(agentLog)
		require.Fail(t, "starting runs the agent again", "pid %d (from %s) is not running; its log:\n%s", pid, pidFile, out)
	}
	require.FileExists(t, filepath.Join(home, "notes.txt"))

	res := api("DELETE", "/api/v2/workspaces/"+id, "")
	b = wait(buildOf(res), ended)
	require.Equal(t, "succeeded", b["status"], b)
	require.False(t, processRuns(pid), "deleting ends the agent")
	require.NoDirExists(t, home, "and removes the home directory")
	require.Equal(t, "deleted", api("GET", "/api/v2/workspaces/"+id, "")["status"])
}

// processRuns reports whether pid is a live process (a zombie waiting to be reaped is not).
func processRuns(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
