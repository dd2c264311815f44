package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/netfault"
	"github.com/hearthdev/hearth/internal/tftest"
	worker "github.com/hearthdev/hearth/provisioner-worker"
)

// faultyWorker runs a worker that reaches the server only through a proxy the test can cut, with
// its work directory at dir; stop ends it.
func faultyWorker(t *testing.T, b bundle, name, dir string) (proxy *netfault.Proxy, stop func()) {
	t.Helper()
	proxy, err := netfault.New(strings.TrimPrefix(b.srv.URL, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	return proxy, runWorkerIn(t, proxy.URL(), name, dir)
}

func runWorkerIn(t *testing.T, url, name, dir string) (stop func()) {
	t.Helper()
	tf, err := worker.FindTerraform(context.Background(), "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Config{URL: url, Key: testPSK, Name: name, Logger: testLogger(),
			Runner: worker.Runner{Terraform: tf, Mirrors: []string{tftest.Mirror(t)}, WorkDir: dir}})
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	return stop
}

// slowWorkspace creates a workspace of the slow-apply template, waits until its first build is
// applying, and returns the build's ID and a function that lets the apply finish.
func slowWorkspace(t *testing.T, b bundle, admin []string) (string, func()) {
	t.Helper()
	root := t.TempDir()
	pushTemplate(t, b, admin, "testdata/slow-apply", "slow", root)
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"w","template":"slow"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	waitFor(t, func() bool {
		_, err := os.Stat(filepath.Join(root, "applying"))
		return err == nil
	}, "the build to apply")
	return ws["latest_build"].(map[string]any)["id"].(string), func() {
		require.NoError(t, os.WriteFile(filepath.Join(root, "go"), nil, 0o600))
	}
}

// pushTemplate makes template name from the directory dir, whose variable root is set to root.
func pushTemplate(t *testing.T, b bundle, admin []string, dir, name, root string) {
	t.Helper()
	file := upload(t, b, admin, tarDir(t, dir))
	res, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","variables":[{"name":"root","value":"`+root+`"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	res, tpl := call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"`+name+`","version_id":"`+v["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, tpl)
}

func buildStatus(t *testing.T, b bundle, admin []string, id string) map[string]any {
	_, v := call(t, "GET", b.srv.URL+"/api/v2/workspacebuilds/"+id, "", admin...)
	return v
}

// A worker cut off from the server mid-apply for longer than its lease: the reaper fails the build
// (the server cannot know better), and when the network comes back the worker's kept result turns
// it into what happened. No apply is recorded as failed.
func TestABuildThatAppliedWhileCutOffIsRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t) // leases last 2 seconds here
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	proxy, _ := faultyWorker(t, b, "cut-off", t.TempDir())
	id, finish := slowWorkspace(t, b, admin)
	proxy.Cut()
	finish()
	waitFor(t, func() bool { return buildStatus(t, b, admin, id)["status"] == "failed" }, "the reaper to fail the build")
	failed := buildStatus(t, b, admin, id)
	require.Contains(t, failed["error"], "stopped responding")
	res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+failed["workspace_id"].(string)+"/builds", `{"transition":"start"}`, admin...)
	require.Equal(t, http.StatusConflict, res.StatusCode, "no build starts from older state while the result may still come: %v", p)
	require.Contains(t, p["detail"], "its result may still arrive")
	proxy.Restore()
	waitFor(t, func() bool { return buildStatus(t, b, admin, id)["status"] == "succeeded" }, "the kept result to arrive")
}

// A worker that stops while its result cannot be delivered keeps it on disk and delivers it when
// it starts again.
func TestAResultOutlivesTheWorker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	dir := t.TempDir()
	proxy, stop := faultyWorker(t, b, "restarted", dir)
	id, finish := slowWorkspace(t, b, admin)
	proxy.Cut()
	finish()
	waitFor(t, func() bool {
		kept, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.json"))
		return len(kept) == 1
	}, "the result to be kept on disk")
	stop()
	info, err := os.Stat(filepath.Join(dir, "outbox"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "results hold state: the outbox is the worker's alone")
	jobs, _ := os.ReadDir(filepath.Join(dir, "jobs"))
	require.Empty(t, jobs, "the job's directory (source, plan, state) is gone")

	runWorkerIn(t, b.srv.URL, "restarted", dir)
	waitFor(t, func() bool { return buildStatus(t, b, admin, id)["status"] == "succeeded" }, "the kept result to arrive")
	waitFor(t, func() bool {
		kept, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.json"))
		return len(kept) == 0
	}, "the delivered result to leave the disk")
}

// What Terraform starts and leaves in its process group is killed when the job ends; a process in a
// session of its own (a workspace agent) is not.
func TestTerraformLeavesNothingRunningBehind(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "tidy")
	root := t.TempDir()
	pushTemplate(t, b, admin, "testdata/leftovers", "left", root)
	_, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"w","template":"left"}`, admin...)
	done := waitBuild(t, b, admin, ws["latest_build"].(map[string]any)["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)

	pid := func(name string) int {
		raw, err := os.ReadFile(filepath.Join(root, name))
		require.NoError(t, err)
		n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		require.NoError(t, err)
		return n
	}
	kept := pid("kept.pid")
	t.Cleanup(func() { _ = syscall.Kill(kept, syscall.SIGKILL) })
	require.NoError(t, syscall.Kill(kept, 0), "the process in a session of its own runs on")
	leftover := pid("leftover.pid")
	waitFor(t, func() bool { return !alive(leftover) }, fmt.Sprintf("process %d, left in Terraform's group, to be killed", leftover))
}

// alive reports whether a process runs (a zombie, which has exited, does not).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}
