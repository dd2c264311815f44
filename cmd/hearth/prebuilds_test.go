package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// prebuiltTemplate is examples/templates/local with a preset that keeps instances prebuilds.
func prebuiltTemplate(t testing.TB, instances string) string {
	t.Helper()
	dir := t.TempDir()
	src := "../../examples/templates/local"
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Type().IsRegular() {
			raw, err := os.ReadFile(filepath.Join(src, e.Name()))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), raw, 0o644))
		}
	}
	preset := `
data "coder_workspace_preset" "team" {
  name = "team"
  parameters = {
    (data.coder_parameter.shell.name) = "sh"
  }
  prebuilds {
    instances = ` + instances + `
  }
}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prebuilds.tf"), []byte(preset), 0o644))
	return dir
}

// poolOf reads a preset's pool from the API.
func poolOf(api func(method, path, body string) map[string]any, preset string) map[string]any {
	for _, p := range api("GET", "/api/v2/prebuilds", "")["pools"].([]any) {
		if p.(map[string]any)["preset"] == preset {
			return p.(map[string]any)
		}
	}
	return nil
}

// A preset with prebuilds { instances = 2 }: two workspaces are built ahead under the prebuilds
// user; hearth create --preset takes one (no build), its agent answers as the new owner's
// workspace at once (the template's agent env evaluated for the new owner: GIT_AUTHOR_EMAIL), and
// the pool refills to two.
func TestPrebuiltWorkspacesAreClaimedAndRefilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "3",
		"--provider-mirror", tftest.Mirror(t), "--prebuilds-reconcile-interval", "1s")
	ada, token := signIn(t, s.url, filepath.Join(dir, "cli"))
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, s.url+path, token, "application/json", []byte(body))
	}
	raw, err := tarDir(prebuiltTemplate(t, "2"))
	require.NoError(t, err)
	file := callAPI(t, "POST", s.url+"/api/v2/files", token, "application/x-tar", raw)
	v := api("POST", "/api/v2/template-versions", `{"file_id":"`+file["id"].(string)+`","variables":[{"name":"workspaces_dir","value":"`+filepath.Join(dir, "workspaces")+`"}]}`)
	waitUntil(t, "the import", func() bool {
		return api("GET", "/api/v2/template-versions/"+v["id"].(string), "")["status"] == "succeeded"
	})
	api("POST", "/api/v2/templates", `{"name":"local","version_id":"`+v["id"].(string)+`"}`)

	eligible := func() float64 {
		p := poolOf(api, "team")
		if p == nil {
			return 0
		}
		return p["eligible"].(float64)
	}
	waitUntil(t, "two prebuilds with ready agents", func() bool { return eligible() == 2 })
	require.Equal(t, float64(2), poolOf(api, "team")["desired"])
	list := api("GET", "/api/v2/workspaces?q=owner:prebuilds", "")
	require.EqualValues(t, 2, list["count"], "owned by the prebuilds user")
	var prebuilt []string
	for _, w := range list["workspaces"].([]any) {
		prebuilt = append(prebuilt, w.(map[string]any)["id"].(string))
	}

	start := time.Now()
	out, errOut, code := ada.run("", "create", "mine", "--template", "local", "--preset", "team", "--yes")
	require.Equal(t, 0, code, out+errOut)
	out, errOut, code = ada.run("", "ssh", "mine", "--", "echo hi $CODER_WORKSPACE_NAME $CODER_WORKSPACE_OWNER_NAME $GIT_AUTHOR_EMAIL")
	took := time.Since(start)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "hi mine ada ada@example.com\n", out,
		"the agent serves as the new owner's workspace, without a restart, with the env its template gives the new owner")
	t.Logf("claim to hearth ssh -- echo: %s", took.Round(time.Millisecond))

	ws := api("GET", "/api/v2/users/me/workspaces/mine", "")
	require.Contains(t, prebuilt, ws["id"], "a prebuild, claimed (the CLI sends every parameter, the preset's and the defaults)")
	require.EqualValues(t, 1, ws["latest_build"].(map[string]any)["number"], "claimed, not rebuilt")
	require.Equal(t, "ada", ws["owner_name"])
	claimed := time.Now()
	waitUntil(t, "the pool to refill, as seen after the claim", func() bool {
		seen, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(api("GET", "/api/v2/prebuilds", "")["seen_at"]))
		return seen.After(claimed) && eligible() == 2
	})
	list = api("GET", "/api/v2/workspaces?q=owner:prebuilds", "")
	names := []string{}
	for _, w := range list["workspaces"].([]any) {
		names = append(names, w.(map[string]any)["name"].(string))
	}
	require.Len(t, names, 2)
	require.False(t, slices.ContainsFunc(names, func(n string) bool { return !strings.HasPrefix(n, "prebuild-") }), names)

	// Without prebuilds in the preset of a new version, the pool drains.
	raw, err = tarDir(prebuiltTemplate(t, "0"))
	require.NoError(t, err)
	file = callAPI(t, "POST", s.url+"/api/v2/files", token, "application/x-tar", raw)
	v = api("POST", "/api/v2/template-versions", `{"file_id":"`+file["id"].(string)+`","template_id":"local","variables":[{"name":"workspaces_dir","value":"`+filepath.Join(dir, "workspaces")+`"}]}`)
	waitUntil(t, "the second import", func() bool {
		return api("GET", "/api/v2/template-versions/"+v["id"].(string), "")["status"] == "succeeded"
	})
	api("PUT", "/api/v2/templates/local/active-version", `{"version_id":"`+v["id"].(string)+`"}`)
	waitUntil(t, "the old prebuilds to be deleted", func() bool {
		return api("GET", "/api/v2/workspaces?q=owner:prebuilds", "")["count"] == float64(0)
	})
}

// BenchmarkPrebuildClaim measures a claim as a user lives it: the create request that takes a ready
// prebuild, then a fresh hearth ssh ws -- echo hi (a new CLI process) that works (target: p95 at most
// 1 s). The pool is refilled between iterations, untimed.
func BenchmarkPrebuildClaim(b *testing.B) {
	dir := b.TempDir()
	s := startServer(b, "--postgres-url", dbtest.NewURL(b), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "3",
		"--provider-mirror", tftest.Mirror(b), "--prebuilds-reconcile-interval", "1s")
	ada, token := signIn(b, s.url, filepath.Join(dir, "cli"))
	api := func(method, path, body string) map[string]any {
		return callAPI(b, method, s.url+path, token, "application/json", []byte(body))
	}
	raw, err := tarDir(prebuiltTemplate(b, "3"))
	require.NoError(b, err)
	file := callAPI(b, "POST", s.url+"/api/v2/files", token, "application/x-tar", raw)
	v := api("POST", "/api/v2/template-versions", `{"file_id":"`+file["id"].(string)+`","variables":[{"name":"workspaces_dir","value":"`+filepath.Join(dir, "workspaces")+`"}]}`)
	waitUntil(b, "the import", func() bool {
		return api("GET", "/api/v2/template-versions/"+v["id"].(string), "")["status"] == "succeeded"
	})
	api("POST", "/api/v2/templates", `{"name":"local","version_id":"`+v["id"].(string)+`"}`)
	var claims, total []time.Duration
	last := time.Now()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		waitUntil(b, "a ready prebuild, seen after the last claim", func() bool {
			res := api("GET", "/api/v2/prebuilds", "")
			seen, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(res["seen_at"]))
			p := poolOf(api, "team")
			return seen.After(last) && p != nil && p["eligible"].(float64) >= 1
		})
		b.StartTimer()
		t0 := time.Now()
		ws := api("POST", "/api/v2/workspaces", fmt.Sprintf(`{"name":"w%d","template":"local","preset":"team"}`, i))
		claims = append(claims, time.Since(t0))
		last = time.Now()
		require.Equal(b, "succeeded", ws["latest_build"].(map[string]any)["status"], "a claim, not a build")
		out, errOut, code := ada.run("", "ssh", fmt.Sprintf("w%d", i), "--", "echo", "hi")
		require.Equal(b, 0, code, errOut)
		require.Equal(b, "hi\n", out)
		total = append(total, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(claims)
	slices.Sort(total)
	b.ReportMetric(float64(claims[len(claims)/2].Microseconds())/1000, "claim-p50-ms")
	b.ReportMetric(float64(claims[(len(claims)-1)*95/100].Microseconds())/1000, "claim-p95-ms")
	b.ReportMetric(float64(total[len(total)/2].Microseconds())/1000, "claim+ssh-p50-ms")
	b.ReportMetric(float64(total[(len(total)-1)*95/100].Microseconds())/1000, "claim+ssh-p95-ms")
}
