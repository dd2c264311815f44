package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/testport"
	"github.com/hearthdev/hearth/internal/tftest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// TerraformVersion is the Terraform the provisioner image pins (Taskfile.yml's TERRAFORM_VERSION).
func terraformVersion(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../Taskfile.yml")
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "TERRAFORM_VERSION: "); ok {
			return strings.Trim(v, `"`)
		}
	}
	t.Fatal("no TERRAFORM_VERSION in Taskfile.yml")
	return ""
}

var images struct {
	once     sync.Once
	tag, out string
	err      error
}

// buildImages builds and loads the images once for the package's tests (tag "test"), and returns
// the tag and what the build printed.
func buildImages(t *testing.T) (string, string) {
	t.Helper()
	needDocker(t)
	images.once.Do(func() {
		var out bytes.Buffer
		images.tag = "test"
		dir, err := os.MkdirTemp("", "hearth-images-test-")
		if err != nil {
			images.err = err
			return
		}
		defer os.RemoveAll(dir)
		images.err = run(context.Background(), []string{"-out", dir, "-tag", images.tag, "-mirror", tftest.Mirror(t),
			"-terraform-version", terraformVersion(t), "-load"}, &out)
		images.out = out.String()
	})
	require.NoError(t, images.err)
	t.Log(images.out)
	return images.tag, images.out
}

func needDocker(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		if os.Getenv("HEARTH_DOCKER") == "1" {
			t.Fatalf("no Docker engine answers: %s", out)
		}
		t.Skipf("no Docker engine answers (go tool task docker:start starts one): %s", out)
	}
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// tcpDatabase makes a fresh test database reachable on a loopback TCP port, as an external
// PostgreSQL would be: the tests' PostgreSQL listens only on a unix socket in a directory containers
// cannot open, so connections are relayed to it. It returns the URL containers use.
func tcpDatabase(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(dbtest.NewURL(t))
	require.NoError(t, err)
	socket := u.Query().Get("host")
	require.NotEmpty(t, socket, "the test database's URL names its socket directory: %s", u.Redacted())
	port := u.Query().Get("port")
	if port == "" {
		port = "5432"
	}
	socket = filepath.Join(socket, ".s.PGSQL."+port)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				pg, err := net.Dial("unix", socket)
				if err != nil {
					return
				}
				defer pg.Close()
				go func() { _, _ = io.Copy(pg, c) }()
				_, _ = io.Copy(c, pg)
			}()
		}
	}()
	q := u.Query()
	q.Del("host")
	q.Del("port")
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	u.Host = l.Addr().String()
	return u.String()
}

// call sends a JSON (or raw) request and decodes the JSON answer; it fails on a status of 300 or more.
func call(t *testing.T, method, url, token, contentType string, body []byte) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	require.Less(t, res.StatusCode, 300, "%s %s: %s", method, url, raw)
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	return v
}

// The images, built as go tool task images builds them and run as containers the way a deployment
// runs them (host networking here, as this machine allows no bridge): the server image, read-only and
// not root, serves the dashboard and the API from an external PostgreSQL; the provisioner image, with
// the pinned Terraform and the mirror inside, takes the server's import of the local example and
// succeeds. Both fit their size budgets.
func TestImagesRunAServerAndAWorker(t *testing.T) {
	tag, built := buildImages(t)
	require.Regexp(t, `hearth-server:`+tag+` [0-9.]+ MB`, built)
	// The server image grew from 41 to 72 MB with the tailnet (tailscale.com's WireGuard engine and
	// gVisor's network stack, in both hearth and hearth-agent).
	for image, budget := range map[string]int64{"hearth-server": 80e6, "hearth-provisioner": 250e6} {
		var size int64
		_, err := fmt.Sscan(docker(t, "image", "inspect", "--format", "{{.Size}}", image+":"+tag), &size)
		require.NoError(t, err)
		require.LessOrEqual(t, size, budget, "%s is %d bytes", image, size)
		require.Equal(t, "65532:65532", docker(t, "image", "inspect", "--format", "{{.Config.User}}", image+":"+tag), "%s runs as a user, not root", image)
	}
	_, err := exec.Command("docker", "run", "--rm", "--entrypoint", "/bin/sh", "hearth-server:"+tag, "-c", "true").CombinedOutput()
	require.Error(t, err, "the server image has no shell")

	port := testport.Free(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	psk := "an-image-test-provisioner-key-0123456789"
	name := "hearth-server-" + tag
	docker(t, "run", "-d", "--name", name, "--network", "host", "--read-only", "--tmpfs", "/tmp",
		"--tmpfs", "/var/lib/hearth:uid=65532,gid=65532,mode=0700", "-e", "HEARTH_PROVISIONER_PSK="+psk,
		"hearth-server:"+tag, "server", "--postgres-url", tcpDatabase(t), "--http-address", fmt.Sprintf("127.0.0.1:%d", port))
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", name).CombinedOutput()
			t.Logf("server logs:\n%s", logs)
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
	})
	waitHealthy(t, url)
	res, err := http.Get(url + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(page), `<div id="root">`, "the dashboard is in the image")
	res, err = http.Get(url + "/bin/hearth-agent-linux-amd64")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, "the agent download is in the image")

	call(t, "POST", url+"/api/v2/users/first", "", "application/json",
		[]byte(`{"username":"ada","email":"ada@example.com","password":"correct-horse"}`))
	token := call(t, "POST", url+"/api/v2/users/login", "", "application/json",
		[]byte(`{"login":"ada","password":"correct-horse"}`))["session_token"].(string)

	worker := "hearth-provisioner-" + tag
	docker(t, "run", "-d", "--name", worker, "--network", "host", "-e", "HEARTH_PROVISIONER_PSK="+psk,
		"hearth-provisioner:"+tag, "--url", url, "--name", "image-worker")
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := exec.Command("docker", "logs", worker).CombinedOutput()
			t.Logf("worker logs:\n%s", logs)
		}
		_ = exec.Command("docker", "rm", "-f", worker).Run()
	})
	file := call(t, "POST", url+"/api/v2/files", token, "application/x-tar", tftest.Tar(t, "../../examples/templates/local"))
	v := call(t, "POST", url+"/api/v2/template-versions", token, "application/json", []byte(`{"file_id":"`+file["id"].(string)+`"}`))
	waitFor(t, 90*time.Second, "the import to end", func() bool {
		v = call(t, "GET", url+"/api/v2/template-versions/"+v["id"].(string), token, "", nil)
		return v["status"] == "succeeded" || v["status"] == "failed"
	})
	require.Equal(t, "succeeded", v["status"], "the worker image imported the local example: %v", v)
}
