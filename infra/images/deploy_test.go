package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/testport"
	"github.com/hearthdev/hearth/internal/tftest"
)

// deployment is two server replicas and two provisioner workers, each a container of the images on
// its own loopback port (host networking), on one external PostgreSQL.
type deployment struct {
	t        *testing.T
	tag      string
	servers  []string // container names
	urls     []string
	workers  []string
	token    string
	psk      string
	database string
}

func (d *deployment) container(name string, args ...string) {
	d.t.Helper()
	docker(d.t, append([]string{"run", "-d", "--name", name, "--network", "host", "-e", "HEARTH_PROVISIONER_PSK=" + d.psk}, args...)...)
	d.t.Cleanup(func() {
		if d.t.Failed() {
			logs, _ := exec.Command("docker", "logs", "--tail", "40", name).CombinedOutput()
			d.t.Logf("%s:\n%s", name, logs)
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
	})
}

func (d *deployment) healthy(i int) {
	d.t.Helper()
	waitHealthy(d.t, d.urls[i])
}

// waitHealthy waits up to a minute for a server to answer its health check with 200.
func waitHealthy(t *testing.T, url string) {
	t.Helper()
	waitFor(t, 60*time.Second, url+" to become healthy", func() bool {
		res, err := http.Get(url + "/api/v2/health")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

func newDeployment(t *testing.T) *deployment {
	t.Helper()
	tag, _ := buildImages(t)
	d := &deployment{t: t, tag: tag, psk: "a-deployment-test-provisioner-key-0123456789", database: tcpDatabase(t)}
	suffix := fmt.Sprint(time.Now().UnixNano() % 1_000_000)
	// Every replica has the deployment's secret key: a file mounted into each.
	key := filepath.Join(t.TempDir(), "secret.key")
	require.NoError(t, os.WriteFile(key, []byte(strings.Repeat("5e", 32)+"\n"), 0o644))
	for i := range 2 {
		port := testport.Free(t)
		name := fmt.Sprintf("hearth-replica-%d-%s", i, suffix)
		d.servers = append(d.servers, name)
		d.urls = append(d.urls, fmt.Sprintf("http://127.0.0.1:%d", port))
		d.container(name, "-v", key+":/etc/hearth/secret.key:ro", "hearth-server:"+tag, "server",
			"--secret-key-file", "/etc/hearth/secret.key", "--postgres-url", d.database,
			"--http-address", fmt.Sprintf("127.0.0.1:%d", port), "--access-url", d.urls[i], "--shutdown-timeout", "20s")
	}
	for i := range 2 {
		d.healthy(i)
	}
	call(t, "POST", d.urls[0]+"/api/v2/users/first", "", "application/json",
		[]byte(`{"username":"ada","email":"ada@example.com","password":"correct-horse"}`))
	d.token = call(t, "POST", d.urls[0]+"/api/v2/users/login", "", "application/json",
		[]byte(`{"login":"ada","password":"correct-horse"}`))["session_token"].(string)
	for i := range 2 {
		name := fmt.Sprintf("hearth-worker-%d-%s", i, suffix)
		d.workers = append(d.workers, name)
		d.container(name, "hearth-provisioner:"+tag, "--url", strings.Join(d.urls, ","), "--name", fmt.Sprintf("worker-%d", i))
	}
	return d
}

// A deployment of the images survives losing a replica and a worker while builds run: every build
// ends, those on the live worker succeed (the replica that died is only one of the two the worker
// reports to), and the one the dead worker held fails as a stopped worker's, to be built again.
func TestADeploymentLosesAReplicaAndAWorkerDuringBuilds(t *testing.T) {
	d := newDeployment(t)
	api := func(method, path, body string) map[string]any {
		return call(t, method, d.urls[1]+path, d.token, "application/json", []byte(body))
	}
	file := call(t, "POST", d.urls[0]+"/api/v2/files", d.token, "application/x-tar", tftest.Tar(t, "testdata/slow"))
	v := api("POST", "/api/v2/template-versions", `{"file_id":"`+file["id"].(string)+`"}`)
	waitFor(t, 60*time.Second, "the import", func() bool {
		v = api("GET", "/api/v2/template-versions/"+v["id"].(string), "")
		return v["status"] == "succeeded"
	})
	api("POST", "/api/v2/templates", `{"name":"slow","version_id":"`+v["id"].(string)+`"}`)

	var builds []string
	for i := range 6 {
		ws := call(t, "POST", d.urls[i%2]+"/api/v2/workspaces", d.token, "application/json", []byte(fmt.Sprintf(`{"name":"w%d","template":"slow"}`, i)))
		builds = append(builds, ws["latest_build"].(map[string]any)["id"].(string))
	}
	time.Sleep(time.Second)
	docker(t, "kill", d.servers[0])
	time.Sleep(time.Second)
	docker(t, "kill", d.workers[0])

	ended := map[string]map[string]any{}
	waitFor(t, 90*time.Second, "every build to end", func() bool {
		for _, id := range builds {
			if ended[id] != nil {
				continue
			}
			b := api("GET", "/api/v2/workspacebuilds/"+id, "")
			if s := b["status"]; s == "succeeded" || s == "failed" || s == "canceled" {
				ended[id] = b
			}
		}
		return len(ended) == len(builds)
	})
	succeeded := 0
	for _, b := range ended {
		if b["status"] == "succeeded" {
			succeeded++
			continue
		}
		require.Equal(t, "failed", b["status"], b)
		require.Contains(t, fmt.Sprint(b["error"]), "worker-0 stopped responding", "only the dead worker's builds fail: %v", b)
	}
	t.Logf("%d of %d builds succeeded; the rest were on the killed worker", succeeded, len(builds))
	require.GreaterOrEqual(t, succeeded, len(builds)-2, "at most what the dead worker held (one build, and one it may have just taken) fails")
}

// A rolling restart of both replicas (each stopped with SIGTERM, so it drains, then started again)
// under a loop of requests from a client that knows both replicas (at least 2,000, and for as long as
// the restart takes, at most three minutes) drops no request.
func TestARollingRestartDropsNoRequest(t *testing.T) {
	d := newDeployment(t)
	c, err := client.DialAny(d.urls, d.token, "test")
	require.NoError(t, err)
	const requests = 2000
	var done, failed atomic.Int64
	var firstErr atomic.Value
	var restarted atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !restarted.Load() || done.Load() < requests {
				select {
				case <-stop:
					return
				default:
				}
				res, err := c.ListWorkspacesWithResponse(context.Background(), &client.ListWorkspacesParams{})
				if err == nil && res.StatusCode() != http.StatusOK {
					err = fmt.Errorf("%d: %s", res.StatusCode(), res.Body)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				done.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	deadline := time.AfterFunc(3*time.Minute, func() { close(stop) })
	defer deadline.Stop()
	for i := range d.servers {
		docker(t, "stop", "--time", "25", d.servers[i])
		docker(t, "start", d.servers[i])
		d.healthy(i)
	}
	restarted.Store(true)
	wg.Wait()
	t.Logf("%d requests across the rolling restart, %d failed", done.Load(), failed.Load())
	require.GreaterOrEqual(t, done.Load(), int64(requests), "the loop ran its course within its bound")
	require.Zero(t, failed.Load(), "failed requests of %d (first: %v)", done.Load(), firstErr.Load())
}

func waitFor(t *testing.T, within time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !done() {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
		time.Sleep(200 * time.Millisecond)
	}
}
