package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/testport"
	"github.com/hearthdev/hearth/internal/tftest"
)

// appScript is the shared app's (inline) script: everything a hostile app might try with the session of
// whoever opens it, each attempt's outcome written into the page. DASHBOARD is the dashboard's
// address as seen from the app's own host; at its path, the app is on the dashboard's origin.
const appScript = `(async () => {
  const dashboard = location.hostname.endsWith(".apps.hearth.test") ? "DASHBOARD" : "";
  const out = {};
  const attempt = async (name, fn) => { try { out[name] = await fn(); } catch (e) { out[name] = "blocked: " + e.name; } };
  const said = async (r) => r.status + " " + (await r.text()).slice(0, 200);
  await attempt("me", async () => said(await fetch(dashboard + "/api/v2/users/me", { credentials: "include" })));
  await attempt("token", async () => said(await fetch(dashboard + "/api/v2/users/me/tokens", { method: "POST", credentials: "include",
    headers: { "Content-Type": "application/json", "Hearth-Csrf": "1" }, body: JSON.stringify({ name: "stolen" }) })));
  await attempt("simple_post", async () => "sent, " + (await fetch(dashboard + "/api/v2/users/me/tokens", { method: "POST", mode: "no-cors",
    credentials: "include", body: JSON.stringify({ name: "simple" }) })).type);
  await attempt("cookie", async () => document.cookie);
  await attempt("storage", async () => { localStorage.setItem("k", "v"); return "ok"; });
  const el = document.getElementById("out");
  el.textContent = JSON.stringify(out);
  el.dataset.done = "yes";
})();
`

// Workspace apps cannot act as the people who open them, in real Chromium. Bob's Files app is
// shared with everyone signed in; alice opens it at its path (on a server that allows shared path
// apps, so the sandbox is what stands in the way) and on its own host (on a server with a wildcard
// host). Its script's reads of alice's account, writes with her session and reads of her cookies
// all fail, while the page renders, runs its script and follows its links. A ticket from alice's
// browser opens nothing in ada's.
func TestAppsCannotActAsTheirVisitors(t *testing.T) {
	t.Parallel()
	required := os.Getenv("HEARTH_E2E") == "1"
	for _, need := range []string{"/usr/bin/chromium", "../../web/node_modules/playwright-core"} {
		if _, err := os.Stat(need); err != nil {
			if required {
				t.Fatalf("%s is missing: go tool task test installs Chromium and the web tools", need)
			}
			t.Skipf("%s is missing (go tool task test provides it)", need)
		}
	}
	dir := t.TempDir()
	pg := dbtest.NewURL(t)
	paths := startServer(t, "--postgres-url", pg, "--data-dir", filepath.Join(dir, "a"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t), "--wildcard-access-url", "", "--dangerous-allow-path-app-sharing")
	// The other server is hearth.test, its apps under *.apps.hearth.test (Chromium is told both
	// reach this machine), the way a deployment and its apps share a domain: an app's host is the
	// same site as the dashboard, so the browser sends the session cookie with the app's requests
	// to the dashboard, and only the API's own checks stand in the way.
	port := strconv.Itoa(testport.Free(t))
	hosts := startServer(t, "--postgres-url", pg, "--data-dir", filepath.Join(dir, "b"), "--provisioners", "0",
		"--secret-key-file", filepath.Join(dir, "a", "secret.key"), "--http-address", "127.0.0.1:"+port,
		"--access-url", "http://hearth.test:"+port, "--wildcard-access-url", "*.apps.hearth.test")

	_, adaToken := signIn(t, paths.url, filepath.Join(dir, "cli"))
	ada := func(method, path, body string) map[string]any {
		return callAPI(t, method, paths.url+path, adaToken, "application/json", []byte(body))
	}
	ada("POST", "/api/v2/users", `{"username":"bob","email":"bob@example.com","password":"bobs-password","roles":["template-admin"]}`)
	ada("POST", "/api/v2/users", `{"username":"alice","email":"alice@example.com","password":"alices-password"}`)
	bobToken := callAPI(t, "POST", paths.url+"/api/v2/users/login", "", "application/json", []byte(`{"login":"bob","password":"bobs-password"}`))["session_token"].(string)
	bob := func(method, path, body string) map[string]any {
		return callAPI(t, method, paths.url+path, bobToken, "application/json", []byte(body))
	}
	root := filepath.Join(dir, "workspaces")
	localWorkspace(t, bob, paths.url, bobToken, "dev", `{"name":"workspaces_dir","value":"`+root+`"}`, `{"name":"files_share","value":"authenticated"}`)
	home := filepath.Join(root, "bob", "dev")
	for name, content := range map[string]string{
		"index.html": `<!doctype html><title>Bob's app</title><h1>Bob's app</h1><pre id="out">running</pre><a href="next.html">Next page</a>` +
			"<script>" + strings.ReplaceAll(appScript, "DASHBOARD", hosts.url) + "</script>",
		"next.html": `<!doctype html><title>Next</title><h1>Bob's second page</h1>`,
	} {
		require.NoError(t, os.WriteFile(filepath.Join(home, name), []byte(content), 0o644))
	}

	_, hostPort, _ := net.SplitHostPort(strings.TrimPrefix(hosts.url, "http://"))
	cmd := exec.Command("node", "e2e/apps.mjs", paths.url, hosts.url, paths.url+"/@bob/dev/apps/files/",
		"http://files--main--dev--bob.apps.hearth.test:"+hostPort+"/")
	cmd.Dir = "../../web"
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "e2e: done", "%s", out)
	results := map[string]map[string]any{}
	for _, line := range strings.Split(string(out), "\n") {
		name, value, ok := strings.Cut(strings.TrimPrefix(line, "e2e: "), " ")
		if ok && strings.HasPrefix(value, "{") {
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(value), &v), line)
			results[name] = v
		}
	}
	t.Logf("%s", out)

	// At its path: an opaque origin. The page's requests to the dashboard carry no cookie and
	// their answers cannot be read; it has no cookies or storage to read.
	p := results["path"]
	require.Equal(t, "Bob's app", p["rendered"], "the page renders and its script runs")
	require.Equal(t, "Bob's second page", p["next"], "its links work")
	require.Contains(t, p["headers"].(map[string]any)["content-security-policy"], "sandbox allow-scripts")
	require.Equal(t, "blocked: TypeError", p["me"], "reading alice's account")
	require.Equal(t, "blocked: TypeError", p["token"], "making a token as alice")
	require.Equal(t, "blocked: SecurityError", p["cookie"], "reading the dashboard's cookies")
	require.Equal(t, "blocked: SecurityError", p["storage"], "the dashboard's storage")
	require.Equal(t, []any{401.0}, p["writes"], "the one write that reached the API (sent blind) came without the session")

	// On its own host: its own origin, which the dashboard's cookie never reaches and whose
	// requests the API does not answer (CORS) or refuses (a change from another origin).
	h := results["host"]
	require.Equal(t, "Bob's app", h["rendered"])
	require.Equal(t, "Bob's second page", h["next"])
	require.Equal(t, "same-origin-allow-popups", h["headers"].(map[string]any)["cross-origin-opener-policy"])
	require.Equal(t, "blocked: TypeError", h["me"], "reading alice's account from the dashboard")
	require.Equal(t, "blocked: TypeError", h["token"], "making a token as alice")
	require.NotContains(t, h["cookie"], "hearth_", "the app's host sees no Hearth cookie")
	require.Equal(t, "ok", h["storage"], "its own storage is its own")
	require.Equal(t, []any{403.0}, h["writes"], "the write sent blind, with alice's session cookie, is refused")

	// Neither the refused writes nor the request sent blind made alice a token.
	for _, tok := range ada("GET", "/api/v2/users/alice/tokens", "")["tokens"].([]any) {
		require.NotContains(t, []string{"stolen", "simple"}, tok.(map[string]any)["name"])
	}

	// A ticket taken from alice's browser opens nothing in ada's: not the cookie, not the link.
	c := results["copied-cookie"]
	require.EqualValues(t, 403, c["status"])
	require.Contains(t, c["text"], "issued to another user")
	l := results["copied-link"]
	require.EqualValues(t, 401, l["status"])
	require.Contains(t, l["text"], "used before")
}
