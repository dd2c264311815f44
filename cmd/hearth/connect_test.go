package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/testport"
	"github.com/hearthdev/hearth/internal/tftest"
)

// connected is a running local-template workspace whose agent's tunnel replica A holds, and a
// signed-in CLI talking to replica B.
type connected struct {
	a, b    *running
	c       cli
	token   string
	agentID string
	home    string
	api     func(method, path, body string) map[string]any
	agent   func() map[string]any
	until   func(what string, done func() bool)
	dir     string
}

func connectedWorkspace(t testing.TB, serverFlags ...string) *connected {
	dir := t.TempDir()
	pg := dbtest.NewURL(t)
	// Replica A runs the workers, so workspaces' agents connect to it; the user talks to B.
	a := startServer(t, append([]string{"--postgres-url", pg, "--data-dir", filepath.Join(dir, "a"), "--provisioners", "2",
		"--provider-mirror", tftest.Mirror(t)}, serverFlags...)...)
	b := startServer(t, append([]string{"--postgres-url", pg, "--data-dir", filepath.Join(dir, "b"), "--provisioners", "0",
		"--secret-key-file", filepath.Join(dir, "a", "secret.key"), "--wildcard-access-url", "*.apps.localhost"}, serverFlags...)...)
	c, token := signIn(t, b.url, filepath.Join(dir, "cli"))
	session := struct{ Token string }{token}
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, b.url+path, session.Token, "application/json", []byte(body))
	}
	until := func(what string, done func() bool) { t.Helper(); waitUntil(t, what, done) }
	root := filepath.Join(dir, "workspaces")
	agent := localWorkspace(t, api, b.url, session.Token, "dev", `{"name":"workspaces_dir","value":"`+root+`"}`)
	return &connected{a: a, b: b, c: c, token: session.Token, agentID: agent()["id"].(string), home: filepath.Join(root, "ada", "dev"),
		api: api, agent: agent, until: until, dir: dir}
}

// Connecting to a workspace the way a new user does, through a replica that does not hold the
// agent's tunnel: hearth ssh, OpenSSH after config-ssh (scp both ways), port forwarding, the path
// app proxy, the web terminal with reconnection; then the agent is killed and restarted.
func TestConnectThroughAnotherReplica(t *testing.T) {
	t.Parallel()
	w := connectedWorkspace(t)
	b, c, api, agent, until, agentID, home, dir := w.b, w.c, w.api, w.agent, w.until, w.agentID, w.home, w.dir
	session := struct{ Token string }{w.token}

	// The startup script's output was uploaded.
	logs := api("GET", "/api/v2/workspaceagents/"+agentID+"/logs", "")
	require.Contains(t, mustJSON(t, logs), "workspace ready in "+home)

	// hearth ssh, through replica B, exit codes and stdin included.
	out, errOut, code := c.run("", "ssh", "dev", "--", "echo", "hi")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "hi\n", out)
	_, _, code = c.run("", "ssh", "dev", "--", "exit 7")
	require.Equal(t, 7, code)
	out, errOut, code = c.run("", "ssh", "-e", "FOO=bar", "dev", "--", "echo $FOO; exit 3")
	require.Equal(t, 3, code, errOut)
	require.Equal(t, "bar\n", out, "flags before the workspace are hearth's; the command after -- goes to the shell as OpenSSH sends it")
	// The memory and home volume the template monitors are reported, against its thresholds.
	waitUntil(t, "the agent's resource report", func() bool {
		r, _ := api("GET", "/api/v2/workspaceagents/"+agentID, "")["resources"].(map[string]any)
		mem, _ := r["memory"].(map[string]any)
		vols, _ := r["volumes"].([]any)
		return mem != nil && mem["total_bytes"].(float64) > 0 && mem["threshold"].(float64) == 90 && len(vols) == 1 &&
			vols[0].(map[string]any)["path"] == home && vols[0].(map[string]any)["total_bytes"].(float64) > 0
	})

	// Scripts get a data directory each and a bin directory that every session has on its PATH.
	out, errOut, code = c.run("", "ssh", "dev", "--", `case ":$PATH:" in *":$CODER_SCRIPT_BIN_DIR:"*) echo on-path;; esac; ls "$(dirname "$CODER_SCRIPT_BIN_DIR")"`)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "on-path\nbin\nfiles\nstartup-script\n", out, "the scripts ran with a CODER_SCRIPT_DATA_DIR each, beside the bin directory")
	out, _, code = c.run("from stdin", "ssh", "dev", "cat")
	require.Equal(t, 0, code)
	require.Equal(t, "from stdin", out)
	_, errOut, code = c.run("", "ssh", "nope", "--", "true")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "No workspace")

	// OpenSSH after config-ssh: ssh and scp of 100 MB both ways.
	sshConfig := filepath.Join(dir, "ssh_config")
	_, errOut, code = c.run("", "config-ssh", "--ssh-config-file", sshConfig)
	require.Equal(t, 0, code, errOut)
	openssh := func(name string, args ...string) string {
		cmd := exec.Command(name, append([]string{"-F", sshConfig}, args...)...)
		cmd.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %v: %s", name, args, out)
		return string(out)
	}
	require.Equal(t, "hi\n", openssh("ssh", "dev.hearth", "echo hi"))
	big := filepath.Join(dir, "big")
	data := make([]byte, 100<<20)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(big, data, 0o600))
	openssh("scp", "-q", big, "dev.hearth:big")
	openssh("scp", "-q", "dev.hearth:big", big+".back")
	for _, f := range []string{filepath.Join(home, "big"), big + ".back"} {
		got, err := os.ReadFile(f)
		require.NoError(t, err)
		require.Equal(t, sha256.Sum256(data), sha256.Sum256(got), f)
	}
	require.NoError(t, os.Remove(filepath.Join(home, "big")))

	// Local (-L) and remote (-R) forwards to an echo server (the local template's workspace shares
	// this machine's network, so the test listens "in the workspace" too).
	echoPort := echoServer(t)
	forward := func(flag string) int {
		port := testport.Free(t)
		cmd := exec.Command("ssh", "-F", sshConfig, "-N", "-o", "ExitOnForwardFailure=yes", flag, strconv.Itoa(port)+":127.0.0.1:"+echoPort, "dev.hearth")
		cmd.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		until("the "+flag+" forward", func() bool {
			conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
			if err != nil {
				return false
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = conn.Write([]byte("ping"))
			got := make([]byte, 4)
			_, err = io.ReadFull(conn, got)
			return err == nil && string(got) == "ping"
		})
		return port
	}
	forward("-L")
	forward("-R")

	// Agent forwarding (-A): the workspace sees this side's keys.
	agentDir := t.TempDir()
	sock := filepath.Join(agentDir, "agent.sock")
	sshAgent := exec.Command("ssh-agent", "-D", "-a", sock)
	require.NoError(t, sshAgent.Start())
	t.Cleanup(func() { _ = sshAgent.Process.Kill(); _ = sshAgent.Wait() })
	until("ssh-agent", func() bool { _, err := os.Stat(sock); return err == nil })
	key := filepath.Join(agentDir, "id_ed25519")
	raw, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "forwarded-key", "-f", key).CombinedOutput()
	require.NoError(t, err, string(raw))
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	raw, err = add.CombinedOutput()
	require.NoError(t, err, string(raw))
	listKeys := exec.Command("ssh", "-F", sshConfig, "-A", "dev.hearth", "ssh-add -l")
	listKeys.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir, "SSH_AUTH_SOCK="+sock)
	raw, err = listKeys.CombinedOutput()
	require.NoError(t, err, string(raw))
	require.Contains(t, string(raw), "forwarded-key")

	// The Files app (python's http.server, started by a coder_script) through port-forward and the
	// path proxy.
	require.NoError(t, os.WriteFile(filepath.Join(home, "notes.txt"), []byte("keep me"), 0o600))
	appURL := agent()["apps"].([]any)[0].(map[string]any)["url"].(string)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(appURL, "http://"))
	local := testport.Free(t)
	pf := exec.Command(binary, "port-forward", "dev", "--tcp", strconv.Itoa(local)+":"+port)
	pf.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir)
	require.NoError(t, pf.Start())
	t.Cleanup(func() { _ = pf.Process.Kill(); _ = pf.Wait() })
	until("the forwarded app", func() bool {
		body, status := get(t, "http://127.0.0.1:"+strconv.Itoa(local)+"/notes.txt", "")
		return status == 200 && body == "keep me"
	})
	body, status := get(t, b.url+"/@ada/dev/apps/files/notes.txt", session.Token)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "keep me", body)
	_, status = get(t, b.url+"/@ada/dev/apps/files/notes.txt", "")
	require.Equal(t, http.StatusUnauthorized, status, "an owner-only app needs a signed-in owner")
	api("POST", "/api/v2/users", `{"username":"bob","email":"bob@example.com","password":"bobs-password"}`)
	bob := callAPI(t, "POST", b.url+"/api/v2/users/login", "", "application/json", []byte(`{"login":"bob","password":"bobs-password"}`))["session_token"].(string)
	_, status = get(t, b.url+"/@ada/dev/apps/files/notes.txt", bob)
	require.Equal(t, http.StatusNotFound, status, "another member does not see a private app")
	require.Equal(t, http.StatusNotFound, dialStatus(t, b.url, "/api/v2/workspaceagents/"+agentID+"/pty?reconnect=0b1d7a5e-8f33-4f4b-9d0f-6a8a8f0c0a11", bob),
		"nor can they open its terminal")

	// The same app on its own host, the way a browser opens it: the app's host sends it to the
	// dashboard, which sends it back with a ticket once it is signed in.
	_, bPort, _ := net.SplitHostPort(strings.TrimPrefix(b.url, "http://"))
	appHost := "http://files--main--dev--ada.apps.localhost:" + bPort
	ada := newBrowser(t, b.url)
	res := ada.get(t, appHost+"/notes.txt")
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Contains(t, res.Header.Get("Location"), "/login?redirect=", "not signed in: to the sign-in page, by way of the dashboard")
	ada.signIn(t, "ada", "correct-horse")
	res = ada.get(t, appHost+"/notes.txt")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "keep me", ada.body)
	require.Equal(t, appHost+"/notes.txt", res.Request.URL.String(), "the ticket was swapped for a cookie and left the address")
	bobs := newBrowser(t, b.url)
	bobs.signIn(t, "bob", "bobs-password")
	res = bobs.get(t, appHost+"/notes.txt")
	require.Equal(t, http.StatusNotFound, res.StatusCode, "another member does not see a private app on its host either")
	res, err = newBrowser(t, b.url).Get(appHost + "/notes.txt")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a client that is not a browser is told to authenticate")
	body, status = get(t, b.url+"/api/v2/applications/authorize?redirect_uri="+url.QueryEscape("http://evil.example.com/"), session.Token)
	require.Equal(t, http.StatusUnprocessableEntity, status, "only app hosts are redirected to: %s", body)

	// The web terminal survives a dropped connection.
	pty := b.url + "/api/v2/workspaceagents/" + agentID + "/pty?reconnect=6c7a9a8e-1f7e-4a43-9a4e-2f1f2b3c4d5e&width=80&height=24"
	term := dialWS(t, pty, session.Token)
	writePTY(t, term, "export MARK=remembered\r")
	_ = term.CloseNow()
	term = dialWS(t, pty, session.Token)
	writePTY(t, term, "echo $MARK-again\r")
	readUntil(t, term, "remembered-again")
	_ = term.CloseNow()

	// Replica B holds no tunnel of the agent: the app proxy and the terminal reached it over
	// WireGuard from B's own node, not through replica A. The first streams may go by DERP while
	// the two nodes still try each other's addresses (on a loaded machine that can outlast them
	// all, and a dial that takes over a second is relayed); once the direct path is up, new
	// streams take it.
	m := streamsByPath(scrape(t, b.url))
	t.Logf("streams from B by path: %v", m)
	require.Positive(t, m[`hearth_agent_streams_total{path="direct"}`]+m[`hearth_agent_streams_total{path="derp"}`],
		"streams from B by path: %v", m)
	until("the agent to list B's node among its connections", func() bool {
		stats, _ := api("GET", "/api/v2/workspaceagents/"+agentID, "")["stats"].(map[string]any)
		peers, _ := stats["peers"].([]any)
		for _, p := range peers {
			if p.(map[string]any)["kind"] == "replica" && p.(map[string]any)["path"] == "direct" {
				return true
			}
		}
		return false
	})
	until("a new stream from B to take the direct path", func() bool {
		body, status := get(t, b.url+"/@ada/dev/apps/files/notes.txt", session.Token)
		require.Equal(t, http.StatusOK, status, body)
		after := streamsByPath(scrape(t, b.url))
		return after[`hearth_agent_streams_total{path="direct"}`] > m[`hearth_agent_streams_total{path="direct"}`]
	})

	// Killing the agent marks it disconnected; a new agent with the same token reconnects.
	pid, ok := alive(t, filepath.Join(home, ".hearth", "agent.pid"))
	require.True(t, ok)
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	require.NoError(t, err)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	until("the agent to be disconnected", func() bool { return agent()["status"] == "disconnected" })
	_, _, code = c.run("", "ssh", "dev", "--", "true")
	require.Equal(t, 1, code, "no connection to a disconnected agent")
	restarted := exec.Command(binary, "agent")
	restarted.Env = strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
	restarted.Dir = home
	require.NoError(t, restarted.Start())
	t.Cleanup(func() { _ = restarted.Process.Signal(syscall.SIGTERM); _ = restarted.Wait() })
	until("the agent to reconnect", func() bool { return agent()["status"] == "connected" })
	out, errOut, code = c.run("", "ssh", "dev", "--", "echo", "back")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "back\n", out)

	// A wrong agent token is refused.
	res, err = http.Get(b.url + "/api/v2/workspaceagents/me/manifest")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// streamsByPath is a replica's hearth_agent_streams_total series.
func streamsByPath(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, "hearth_agent_streams_total") {
			out[k] = v
		}
	}
	return out
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	return string(raw)
}

// browser is a client with a cookie jar that reaches every host at the server's address, the way a
// browser reaches a wildcard apps host whose DNS points at the deployment.
type browser struct {
	http.Client
	base string
	body string // of the last response
}

func newBrowser(t testing.TB, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	addr := strings.TrimPrefix(base, "http://")
	dial := (&net.Dialer{}).DialContext
	return &browser{base: base, Client: http.Client{Jar: jar, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) { return dial(ctx, network, addr) },
	}, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/login" {
			return http.ErrUseLastResponse // no dashboard to sign in with here
		}
		return nil
	}}}
}

func (b *browser) get(t testing.TB, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html,*/*")
	res, err := b.Do(req)
	require.NoError(t, err)
	raw, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	b.body = string(raw)
	return res
}

func (b *browser) signIn(t testing.TB, login, password string) {
	t.Helper()
	res, err := b.Post(b.base+"/api/v2/users/login", "application/json", strings.NewReader(`{"login":"`+login+`","password":"`+password+`"}`))
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// get fetches url (with a bearer token when given) and returns the body and status.
func get(t testing.TB, url, token string) (string, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error(), 0
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return string(raw), res.StatusCode
}

func dialWS(t testing.TB, url, token string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	require.NoError(t, err)
	return c
}

// dialStatus is the HTTP status a websocket dial is refused with.
func dialStatus(t testing.TB, base, path, token string) int {
	t.Helper()
	c, res, err := websocket.Dial(context.Background(), base+path, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err == nil {
		_ = c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	require.NotNil(t, res, err)
	return res.StatusCode
}

func writePTY(t testing.TB, c *websocket.Conn, data string) {
	t.Helper()
	msg, _ := json.Marshal(map[string]string{"data": data})
	require.NoError(t, c.Write(context.Background(), websocket.MessageText, msg))
}

// readUntil reads terminal output until it contains want.
func readUntil(t testing.TB, c *websocket.Conn, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var seen strings.Builder
	for !strings.Contains(seen.String(), want) {
		_, data, err := c.Read(ctx)
		require.NoError(t, err, "terminal output so far: %q", seen.String())
		seen.Write(data)
	}
}

// waitUntil polls done until it holds, for at most two minutes (the suite runs dozens of servers,
// builds and agents side by side on two cores; a build and an agent's start can wait that long).
func waitUntil(t testing.TB, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !done() {
		require.True(t, time.Now().Before(deadline), "timed out waiting for %s", what)
		time.Sleep(50 * time.Millisecond)
	}
}

// localWorkspace pushes examples/templates/local as the template "local" with the given variables
// (JSON objects), creates the workspace name from it and waits until its agent is ready; it returns
// a function that reads the agent as the API shows it now.
func localWorkspace(t testing.TB, api func(method, path, body string) map[string]any, server, token, name string, variables ...string) func() map[string]any {
	t.Helper()
	file := callAPI(t, "POST", server+"/api/v2/files", token, "application/x-tar", tarTemplate(t, "../../examples/templates/local"))
	v := api("POST", "/api/v2/template-versions", `{"file_id":"`+file["id"].(string)+`","variables":[`+strings.Join(variables, ",")+`]}`)
	waitUntil(t, "the import", func() bool {
		return api("GET", "/api/v2/template-versions/"+v["id"].(string), "")["status"] == "succeeded"
	})
	api("POST", "/api/v2/templates", `{"name":"local","version_id":"`+v["id"].(string)+`"}`)
	ws := api("POST", "/api/v2/workspaces", `{"name":"`+name+`","template":"local"}`)
	agent := func() map[string]any {
		w := api("GET", "/api/v2/workspaces/"+ws["id"].(string), "")
		for _, r := range w["latest_build"].(map[string]any)["resources"].([]any) {
			if ags := r.(map[string]any)["agents"].([]any); len(ags) > 0 {
				return ags[0].(map[string]any)
			}
		}
		return nil
	}
	var last map[string]any
	defer func() {
		if t.Failed() {
			t.Logf("the agent as the API showed it last: %v", last)
			if dir, ok := last["directory"].(string); ok {
				log, _ := os.ReadFile(filepath.Join(dir, ".hearth", "agent.log"))
				t.Logf("its log (%s/.hearth/agent.log):\n%s", dir, log)
			}
		}
	}()
	waitUntil(t, "the agent to be ready", func() bool {
		last = agent()
		return last != nil && last["status"] == "connected" && last["lifecycle_state"] == "ready"
	})
	return agent
}
