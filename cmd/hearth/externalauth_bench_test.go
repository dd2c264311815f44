package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// linkOverHTTP links ada's testgit account the way a browser does, without one: the dashboard's
// login redirect, the provider's consent form, the callback.
func (d *externalAuthDeployment) linkOverHTTP(t testing.TB) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(u string, bearer bool) *http.Response {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		require.NoError(t, err)
		if bearer {
			req.Header.Set("Authorization", "Bearer "+d.token)
		}
		res, err := hc.Do(req)
		require.NoError(t, err)
		_ = res.Body.Close()
		return res
	}
	res := do(d.srv.url+"/api/v2/external-auth/testgit/login", true)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	back := d.provider.Approve(t, res.Header.Get("Location"))
	res = do(back.String(), false)
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
}

// BenchmarkExternalAuthToken measures the targets: a token handed out inside a workspace
// when it is fresh, and when a refresh is due (one round trip to the provider on loopback). It
// asks the agent's local socket, as the in-workspace coder command does, and also times the whole
// `coder external-auth access-token` process. Run with -benchtime=1x: the counts are fixed.
func BenchmarkExternalAuthToken(b *testing.B) {
	const lifetime = 2 * time.Second
	d := newExternalAuthDeployment(b, lifetime)
	d.linkOverHTTP(b)
	out, errOut, code := d.c.run("", "create", "dev", "--template", "git", "--yes")
	require.Equal(b, 0, code, "%s%s", out, errOut)
	ws := callAPI(b, "GET", d.srv.url+"/api/v2/users/ada/workspaces/dev", d.token, "application/json", nil)
	var agentID string
	for _, r := range ws["latest_build"].(map[string]any)["resources"].([]any) {
		if ags := r.(map[string]any)["agents"].([]any); len(ags) > 0 {
			agentID = ags[0].(map[string]any)["id"].(string)
		}
	}
	require.NotEmpty(b, agentID)
	sock := filepath.Join(os.TempDir(), "hearth-agent-"+agentID+".sock")
	waitUntil(b, "the agent's socket", func() bool { _, err := os.Stat(sock); return err == nil })
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	defer hc.CloseIdleConnections()
	ask := func() time.Duration {
		start := time.Now()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://agent/external-auth?id=testgit", nil)
		require.NoError(b, err)
		res, err := hc.Do(req)
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		require.Equal(b, http.StatusOK, res.StatusCode)
		return time.Since(start)
	}
	ask() // the first: connections opened
	b.ResetTimer()
	for range b.N {
		var fresh, due, command []time.Duration
		for range 200 {
			fresh = append(fresh, ask())
		}
		before := d.provider.Refreshes.Load()
		for range 8 {
			time.Sleep(lifetime)
			due = append(due, ask())
		}
		require.EqualValues(b, 8, d.provider.Refreshes.Load()-before, "each due token was refreshed once")
		coder := filepath.Join(os.TempDir(), "hearth-script-data", agentID, "bin", "coder")
		for range 20 {
			cmd := exec.Command(coder, "external-auth", "access-token", "testgit")
			cmd.Env = append(os.Environ(), "HEARTH_AGENT_SOCKET="+sock)
			start := time.Now()
			require.NoError(b, cmd.Run())
			command = append(command, time.Since(start))
		}
		report := func(name string, ds []time.Duration) {
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, name+"-p50-ms")
			b.ReportMetric(float64(ds[len(ds)*95/100].Microseconds())/1000, name+"-p95-ms")
		}
		report("fresh", fresh)
		report("due", due)
		report("command", command)
	}
}
