package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// workspaceImage is the image go tool task workspace-image builds and the docker example runs.
const workspaceImage = "hearth-workspace:bookworm"

// needDocker skips the test unless a Docker engine answers with the workspace image; under go tool
// task test (HEARTH_DOCKER=1, after the task started an engine and built the image) it fails instead.
func needDocker(t testing.TB) {
	t.Helper()
	missing := ""
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		missing = "no Docker engine answers (go tool task docker:start starts one): " + strings.TrimSpace(string(out))
	} else if out, err := exec.Command("docker", "image", "inspect", workspaceImage).CombinedOutput(); err != nil {
		missing = "no image " + workspaceImage + " (go tool task workspace-image builds it): " + strings.TrimSpace(string(out))
	}
	if missing == "" {
		return
	}
	if os.Getenv("HEARTH_DOCKER") == "1" {
		t.Fatal(missing)
	}
	t.Skip(missing)
}

// docker runs the docker CLI and returns its trimmed output.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// labelled lists the names of a workspace's containers (kind "container") or volumes ("volume"), by
// the coder.workspace_id label the template puts on each.
func labelled(t *testing.T, kind, workspaceID string) []string {
	t.Helper()
	cmd, format := []string{"ps", "-a"}, "{{.Names}}"
	if kind == "volume" {
		cmd, format = []string{"volume", "ls"}, "{{.Name}}"
	}
	return strings.Fields(docker(t, append(cmd, "--filter", "label=coder.workspace_id="+workspaceID, "--format", format)...))
}

// removeLabelled removes what a workspace left on the Docker host, for tests that failed half way.
func removeLabelled(t *testing.T, workspaceID string) {
	for _, c := range labelled(t, "container", workspaceID) {
		_ = exec.Command("docker", "rm", "-f", c).Run()
	}
	for _, v := range labelled(t, "volume", workspaceID) {
		_ = exec.Command("docker", "volume", "rm", "-f", v).Run()
	}
}

// firstAgent is the first agent of a workspace's latest build as the API shows it, or nil.
func firstAgent(api func(method, path, body string) map[string]any, workspaceID string) map[string]any {
	w := api("GET", "/api/v2/workspaces/"+workspaceID, "")
	lb, _ := w["latest_build"].(map[string]any)
	resources, _ := lb["resources"].([]any)
	for _, r := range resources {
		if ags, _ := r.(map[string]any)["agents"].([]any); len(ags) > 0 {
			return ags[0].(map[string]any)
		}
	}
	return nil
}

// ready says whether an agent is connected and its startup done.
func ready(a map[string]any) bool {
	return a != nil && a["status"] == "connected" && a["lifecycle_state"] == "ready"
}

// The docker example, as a new user runs it: pushed with the CLI, a workspace created, its agent
// downloaded into a real container; a file written over SSH survives a stop (container gone, volume
// kept) and a start; the coder stat metadata reports; delete leaves nothing behind. The engine has no
// bridge network here, so the template's host networking variable is used.
func TestDockerTemplateWorkspaceLifecycle(t *testing.T) {
	needDocker(t)
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "data"), "--provisioners", "2",
		"--provider-mirror", tftest.Mirror(t))
	c, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, srv.url+path, token, "application/json", []byte(body))
	}

	out, errOut, code := c.run("", "templates", "push", "../../examples/templates/docker", "--variable", "network_mode=host", "--yes")
	require.Equal(t, 0, code, out+errOut)
	require.NotContains(t, out+errOut, "warning", "the example uses nothing Hearth does not honour")

	// The container's name comes from the owner and workspace names: one of this run's own.
	box := fmt.Sprintf("box-%d", time.Now().UnixNano()%1_000_000)
	out, errOut, code = c.run("", "create", box, "--template", "docker", "--yes")
	require.Equal(t, 0, code, out+errOut)
	ws := api("GET", "/api/v2/users/me/workspaces/"+box, "")
	id := ws["id"].(string)
	t.Cleanup(func() { removeLabelled(t, id) }) // what a failed run left
	agent := func() map[string]any { return firstAgent(api, id) }
	waitReady := func() {
		waitUntil(t, "the agent in the container to be ready", func() bool { return ready(agent()) })
	}
	waitReady()
	require.Len(t, labelled(t, "container", id), 1, "the workspace's container, labelled with its id")
	require.Len(t, labelled(t, "volume", id), 1, "its home volume")

	out, errOut, code = c.run("", "ssh", box, "--", "echo hi > ~/f && id -un && command -v coder")
	require.Equal(t, 0, code, out+errOut)
	require.Regexp(t, `^coder\n.*/bin/coder\n$`, out, "a shell as the image's user, with the coder command on the PATH")

	// The template's metadata: coder stat from inside the container.
	values := map[string]*regexp.Regexp{
		"cpu":         regexp.MustCompile(`^[0-9.]+/[0-9.]+ cores \([0-9]+%\)$`),
		"memory":      regexp.MustCompile(`^[0-9.]+/[0-9.]+ GiB \([0-9]+%\)$`),
		"home_disk":   regexp.MustCompile(`^[0-9.]+/[0-9.]+ GiB \([0-9]+%\)$`),
		"host_cpu":    regexp.MustCompile(`^[0-9.]+/[0-9.]+ cores \([0-9]+%\)$`),
		"host_memory": regexp.MustCompile(`^[0-9.]+/[0-9.]+ GiB \([0-9]+%\)$`),
	}
	agentID := agent()["id"].(string)
	waitUntil(t, "the metadata values", func() bool {
		got := map[string]string{}
		md, _ := api("GET", "/api/v2/workspaceagents/"+agentID, "")["metadata_values"].([]any)
		for _, m := range md {
			m := m.(map[string]any)
			if m["error"] == nil || m["error"] == "" {
				got[m["key"].(string)], _ = m["value"].(string)
			}
		}
		for key, re := range values {
			if !re.MatchString(strings.TrimSpace(got[key])) {
				return false
			}
		}
		return true
	})

	out, errOut, code = c.run("", "stop", box)
	require.Equal(t, 0, code, out+errOut)
	require.Empty(t, labelled(t, "container", id), "stopped: the container is gone")
	require.Len(t, labelled(t, "volume", id), 1, "stopped: the home volume is kept")

	out, errOut, code = c.run("", "start", box)
	require.Equal(t, 0, code, out+errOut)
	waitReady()
	out, errOut, code = c.run("", "ssh", box, "--", "cat ~/f; cat ~/.cache/hearth-agent/hearth-agent.etag")
	require.Equal(t, 0, code, out+errOut)
	require.Regexp(t, `^hi\nW/"[0-9a-f]+"\n$`, out, "the home survived the stop, with the agent's download cache in it")

	out, errOut, code = c.run("", "delete", box, "--yes")
	require.Equal(t, 0, code, out+errOut)
	require.Empty(t, labelled(t, "container", id), "deleted: no container")
	require.Empty(t, labelled(t, "volume", id), "deleted: no volume")

	// What a workspace leaves behind (here, a volume whose workspace this deployment never had) is
	// found by its label and removed by hearth doctor.
	stray := fmt.Sprintf("stray-%d", time.Now().UnixNano())
	strayID := "0f1e2d3c-4b5a-4978-8695-" + fmt.Sprintf("%012d", time.Now().UnixNano()%1_000_000_000_000)
	docker(t, "volume", "create", "--label", "coder.workspace_id="+strayID, stray)
	t.Cleanup(func() { _ = exec.Command("docker", "volume", "rm", "-f", stray).Run() })
	out, errOut, code = c.run("", "doctor", "docker")
	require.Equal(t, 0, code, out+errOut)
	require.Regexp(t, `volume\s+`+stray+`\s+`+strayID+`\s+no such workspace in this deployment`, out)
	require.NotContains(t, out, id, "the deleted workspace left nothing")
	out, errOut, code = c.run("", "doctor", "docker", "--remove", "--yes")
	require.Equal(t, 0, code, out+errOut)
	require.Contains(t, errOut, "Removed volume "+stray)
	require.Empty(t, labelled(t, "volume", strayID))
}

// A template written the way Coder's docker template is (testdata/coder-docker: Coder's labels, its
// seven metadata items, coder stat among them), with only this machine's substitutions, builds,
// connects, reports every metadata item without an error, and leaves nothing behind.
func TestCoderShapedDockerTemplateConnects(t *testing.T) {
	needDocker(t)
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "data"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t))
	c, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, srv.url+path, token, "application/json", []byte(body))
	}
	out, errOut, code := c.run("", "templates", "push", "testdata/coder-docker", "--name", "coder-docker", "--yes")
	require.Equal(t, 0, code, out+errOut)
	require.NotContains(t, out+errOut, "warning")

	name := fmt.Sprintf("cd-%d", time.Now().UnixNano()%1_000_000)
	out, errOut, code = c.run("", "create", name, "--template", "coder-docker", "--yes")
	require.Equal(t, 0, code, out+errOut)
	id := api("GET", "/api/v2/users/me/workspaces/"+name, "")["id"].(string)
	t.Cleanup(func() { removeLabelled(t, id) })
	var agentID string
	waitUntil(t, "the agent to be ready", func() bool {
		a := firstAgent(api, id)
		agentID, _ = a["id"].(string)
		return ready(a)
	})
	var last []any
	defer func() {
		if t.Failed() {
			t.Logf("the metadata as the API showed it last: %v", last)
		}
	}()
	// Each item reports a value without an error at some point (under the whole suite's load one may
	// time out now and then; the next collection counts).
	good := map[string]bool{}
	waitUntil(t, "all seven metadata items", func() bool {
		last, _ = api("GET", "/api/v2/workspaceagents/"+agentID, "")["metadata_values"].([]any)
		for _, m := range last {
			m := m.(map[string]any)
			if v, _ := m["value"].(string); v != "" && (m["error"] == nil || m["error"] == "") {
				good[fmt.Sprint(m["key"])] = true
			}
		}
		return len(good) == 7
	})
	out, errOut, code = c.run("", "delete", name, "--yes")
	require.Equal(t, 0, code, out+errOut)
	require.Empty(t, labelled(t, "container", id))
	require.Empty(t, labelled(t, "volume", id))
}

// A dead engine and a missing image fail the import within seconds, saying what is wrong and what to
// do; a container name already taken on the host fails the build the same way, and once it is freed
// the workspace starts.
func TestDockerFailuresAreNamed(t *testing.T) {
	needDocker(t)
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "data"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t))
	c, _ := signIn(t, srv.url, filepath.Join(dir, "cli"))
	push := func(name string, vars ...string) (string, int) {
		args := []string{"templates", "push", "../../examples/templates/docker", "--name", name, "--yes", "--variable", "network_mode=host"}
		for _, v := range vars {
			args = append(args, "--variable", v)
		}
		out, errOut, code := c.run("", args...)
		return out + errOut, code
	}
	out, code := push("nodocker", "docker_host=unix://"+filepath.Join(dir, "no-docker.sock"))
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "cannot reach Docker at unix://"+filepath.Join(dir, "no-docker.sock"))

	out, code = push("noimage", "image=hearth-no-such-image:1")
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "image hearth-no-such-image:1 not found on this host; build it")

	out, code = push("docker")
	require.Equal(t, 0, code, out)
	name := fmt.Sprintf("taken-%d", time.Now().UnixNano()%1_000_000)
	squatter := "coder-ada-" + name
	docker(t, "create", "--name", squatter, "--network", "host", workspaceImage, "true")
	t.Cleanup(func() {
		_ = exec.Command("docker", "rm", "-f", squatter).Run()
		vols, _ := exec.Command("docker", "volume", "ls", "-q", "--filter", "label=coder.workspace_name="+name).Output()
		for _, v := range strings.Fields(string(vols)) {
			_ = exec.Command("docker", "volume", "rm", "-f", v).Run()
		}
	})
	stdout, errOut, code := c.run("", "create", name, "--template", "docker", "--yes")
	require.NotEqual(t, 0, code)
	require.Contains(t, stdout+errOut, "a container named "+squatter+" already exists on the Docker host")

	docker(t, "rm", "-f", squatter)
	stdout, errOut, code = c.run("", "start", name)
	require.Equal(t, 0, code, stdout+errOut)
	stdout, errOut, code = c.run("", "delete", name, "--yes")
	require.Equal(t, 0, code, stdout+errOut)
}
