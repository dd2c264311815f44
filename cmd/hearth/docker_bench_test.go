package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// containerDeployment is a server with the docker example pushed (host networking) and the API as ada.
type containerDeployment struct {
	srv   *running
	token string
}

func newContainerDeployment(b *testing.B, workers int) *containerDeployment {
	b.Helper()
	needDocker(b)
	dir := b.TempDir()
	srv := startServer(b, "--postgres-url", dbtest.NewURL(b), "--data-dir", filepath.Join(dir, "data"),
		"--provisioners", fmt.Sprint(workers), "--provider-mirror", tftest.Mirror(b))
	c, token := signIn(b, srv.url, filepath.Join(dir, "cli"))
	out, errOut, code := c.run("", "templates", "push", "../../examples/templates/docker", "--variable", "network_mode=host", "--yes")
	require.Equal(b, 0, code, out+errOut)
	return &containerDeployment{srv: srv, token: token}
}

func (d *containerDeployment) api(b *testing.B, method, path, body string) map[string]any {
	return callAPI(b, method, d.srv.url+path, d.token, "application/json", []byte(body))
}

// create asks for a workspace and returns its id and when its agent was ready (after the request).
func (d *containerDeployment) createReady(b *testing.B, name string) (string, time.Duration) {
	t0 := time.Now()
	ws := d.api(b, "POST", "/api/v2/workspaces", `{"name":"`+name+`","template":"docker"}`)
	id, _ := ws["id"].(string)
	require.NotEmpty(b, id, ws)
	deadline := t0.Add(60 * time.Second)
	api := func(method, path, body string) map[string]any { return d.api(b, method, path, body) }
	for {
		if ready(firstAgent(api, id)) {
			return id, time.Since(t0)
		}
		lb, _ := api("GET", "/api/v2/workspaces/"+id, "")["latest_build"].(map[string]any)
		require.NotEqual(b, "failed", lb["status"], lb)
		require.True(b, time.Now().Before(deadline), "workspace %s: no ready agent within a minute", name)
		time.Sleep(20 * time.Millisecond)
	}
}

// delete deletes the workspaces and waits until their delete builds have ended.
func (d *containerDeployment) delete(b *testing.B, ids ...string) {
	b.Helper()
	for _, id := range ids {
		d.api(b, "DELETE", "/api/v2/workspaces/"+id, "")
	}
	for _, id := range ids {
		waitUntil(b, "the delete of "+id, func() bool {
			lb, _ := d.api(b, "GET", "/api/v2/workspaces/"+id, "")["latest_build"].(map[string]any)
			return lb == nil || (lb["transition"] == "delete" && lb["status"] != "pending" && lb["status"] != "running")
		})
	}
}

// BenchmarkContainerWorkspaceReady measures, with the image present, the time from the create request
// to the container's agent being connected and ready (docker example, host networking, one worker
// busy at a time). Reported: the median and the slowest.
func BenchmarkContainerWorkspaceReady(b *testing.B) {
	d := newContainerDeployment(b, 3)
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		id, t := d.createReady(b, fmt.Sprintf("r%d-%d", i, time.Now().UnixNano()%100000))
		took = append(took, t)
		b.StopTimer()
		d.delete(b, id)
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "ready-p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "ready-max-ms")
}

// BenchmarkTwentyContainerWorkspaces creates 20 container workspaces at once with 3 workers; every one
// must become ready. Reported: the time until the last was ready.
func BenchmarkTwentyContainerWorkspaces(b *testing.B) {
	const n = 20
	d := newContainerDeployment(b, 3)
	var last []time.Duration
	b.ResetTimer()
	for i := range b.N {
		var wg sync.WaitGroup
		ids := make([]string, n)
		took := make([]time.Duration, n)
		for k := range n {
			wg.Go(func() {
				ids[k], took[k] = d.createReady(b, fmt.Sprintf("c%d-%d-%d", i, k, time.Now().UnixNano()%100000))
			})
		}
		wg.Wait()
		sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
		last = append(last, took[n-1])
		b.StopTimer()
		d.delete(b, ids...)
		b.StartTimer()
	}
	b.StopTimer()
	sort.Slice(last, func(i, j int) bool { return last[i] < last[j] })
	b.ReportMetric(float64(last[len(last)/2].Milliseconds()), "all-ready-ms")
}

// BenchmarkAgentDownload fetches the agent the way the init script does (gzip accepted) from a real
// server on loopback: once in full, once with the ETag it gave. Reported: the medians of each and the
// bytes each moved.
func BenchmarkAgentDownload(b *testing.B) {
	dir := b.TempDir()
	srv := startServer(b, "--postgres-url", dbtest.NewURL(b), "--data-dir", filepath.Join(dir, "data"), "--provisioners", "0")
	url := srv.url + "/bin/hearth-agent-linux-amd64"
	get := func(etag string) (int, string, int64, time.Duration) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		t0 := time.Now()
		res, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(b, err)
		n, err := io.Copy(io.Discard, res.Body)
		require.NoError(b, err)
		_ = res.Body.Close()
		return res.StatusCode, res.Header.Get("ETag"), n, time.Since(t0)
	}
	code, etag, _, _ := get("") // the first compresses
	require.Equal(b, http.StatusOK, code)
	var full, cached []time.Duration
	var fullBytes, cachedBytes int64
	b.ResetTimer()
	for range b.N {
		code, _, n, t := get("")
		require.Equal(b, http.StatusOK, code)
		full, fullBytes = append(full, t), n
		code, _, n, t = get(etag)
		require.Equal(b, http.StatusNotModified, code)
		cached, cachedBytes = append(cached, t), n
	}
	b.StopTimer()
	med := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	b.ReportMetric(med(full), "full-ms")
	b.ReportMetric(float64(fullBytes), "full-bytes")
	b.ReportMetric(med(cached), "cached-ms")
	b.ReportMetric(float64(cachedBytes), "cached-bytes")
}
