package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"tailscale.com/derp/derphttp"
	"tailscale.com/net/netmon"
	"tailscale.com/types/key"

	connectpath "github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tailnet"
	"github.com/hearthdev/hearth/internal/testport"
	"github.com/hearthdev/hearth/internal/tftest"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// A workspace proxy the way an owner sets one up: register it, start hearth proxy with its token, and
// point a template's agents at it. The agent's tunnel is then the proxy's: users connect through it
// with a connection ticket, the server reaches the agent through it, WireGuard packets with no direct
// path go through its DERP server, and a deleted proxy's token stops working.
func TestWorkspaceProxy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The server's own DERP region is left out, so the proxy's is the only one.
	derpMap := filepath.Join(dir, "derp.json")
	require.NoError(t, os.WriteFile(derpMap, []byte(`{"omit_default_regions": true, "regions": []}`), 0o600))
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "2",
		"--provider-mirror", tftest.Mirror(t), "--derp-map-file", derpMap)
	c, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	api := func(method, path, body string) map[string]any {
		return callAPI(t, method, srv.url+path, token, "application/json", []byte(body))
	}
	until := func(what string, done func() bool) { t.Helper(); waitUntil(t, what, done) }

	out, errOut, code := c.run("", "proxies", "create", "eu")
	require.Equal(t, 0, code, errOut)
	proxyToken := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(proxyToken, "hrt_"), out)
	_, errOut, code = c.run("", "proxies", "create", "eu")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "exists already")

	// No token, an unreachable server, a wrong token: one line each, and the proxy exits.
	_, errOut, code = c.run("", "proxy", "--primary-url", srv.url)
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "token is required")
	_, errOut, code = c.run("", "proxy", "--primary-url", "http://127.0.0.1:1", "--http-address", "127.0.0.1:0", "--proxy-token", proxyToken)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "reach the control plane at http://127.0.0.1:1")
	_, errOut, code = c.run("", "proxy", "--primary-url", srv.url, "--http-address", "127.0.0.1:0", "--proxy-token", "hrt_abcdefgh_"+strings.Repeat("a", 32))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not valid")

	port := testport.Free(t)
	proxyURL := "http://127.0.0.1:" + strconv.Itoa(port)
	px := startProxy(t, srv.url, proxyToken, port)
	var proxies []map[string]any
	until("the proxy to be listed healthy", func() bool {
		out, _, _ := c.run("", "proxies", "list", "-o", "json")
		proxies = nil
		_ = json.Unmarshal([]byte(out), &proxies)
		return len(proxies) == 1 && proxies[0]["healthy"] == true
	})
	require.Equal(t, proxyURL, proxies[0]["url"])
	require.EqualValues(t, 1, proxies[0]["instances"])
	require.Equal(t, true, proxies[0]["derp"])
	// The proxy is a region of the DERP map (within the 2 s the map is cached).
	var regions []any
	until("the proxy's DERP region", func() bool {
		regions = api("GET", "/api/v2/derp-map", "")["regions"].([]any)
		return len(regions) == 1
	})
	region := regions[0].(map[string]any)
	require.Equal(t, proxies[0]["derp_region_id"], region["id"])
	require.GreaterOrEqual(t, region["id"], float64(10000))
	require.Equal(t, "eu", region["code"])
	require.Equal(t, proxyURL, region["url"])
	res, err := http.Get(proxyURL + "/api/v2/users/me")
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusNotFound, res.StatusCode, "the proxy serves no API of its own")

	// A template whose agents connect to the proxy.
	root := filepath.Join(dir, "workspaces")
	t.Cleanup(func() { c.run("", "delete", "dev", "--yes") })
	agent := localWorkspace(t, api, srv.url, token, "dev", `{"name":"workspaces_dir","value":"`+root+`"}`, `{"name":"agent_url","value":"`+proxyURL+`"}`)
	agentID := agent()["id"].(string)
	// Its reports went through the proxy too: the startup script's output is stored.
	require.Contains(t, mustJSON(t, api("GET", "/api/v2/workspaceagents/"+agentID+"/logs", "")), "workspace ready in")

	ticket := api("POST", "/api/v2/workspaceagents/"+agentID+"/connection-ticket", "")
	require.Equal(t, proxyURL, ticket["proxy_url"], "the proxy holds the agent's tunnel")

	// hearth ssh goes through the proxy.
	out, errOut, code = c.run("", "ssh", "dev", "--", "echo", "hi")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "hi\n", out)

	// With no UDP path (the CLI advertises and tries no endpoint), WireGuard goes through the
	// proxy's DERP server; a stranger's DERP client is refused there, as at the server.
	noUDP := []string{tailnet.EndpointsEnv + "=192.0.2.255/32", connectpath.PathEnv + "=tailnet"}
	out, errOut, code = c.runEnv(noUDP, "", "ping", "dev", "-n", "1")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "via DERP(eu)")
	out, errOut, code = c.runEnv(noUDP, "", "ssh", "dev", "--", "echo", "through the proxy")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "through the proxy\n", out)
	dc, err := derphttp.NewClient(key.NewNode(), proxyURL+"/derp", t.Logf, netmon.NewStatic())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	if err = dc.Connect(ctx); err == nil {
		_, err = dc.Recv()
	}
	cancel()
	_ = dc.Close()
	require.Error(t, err, "a stranger's DERP connection")

	// Straight to the proxy: a port in the workspace with the ticket; none, or another agent's, is 401.
	echo := echoServer(t)
	connect := func(base string, header http.Header) (*tunnel.Conn, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, res, err := tunnel.Dial(ctx, base+"/api/v2/workspaceagents/"+agentID+"/connect?kind=tcp&port="+echo, header)
		if res != nil && res.Body != nil {
			_ = res.Body.Close()
		}
		if err != nil {
			return nil, res.StatusCode
		}
		return conn, http.StatusSwitchingProtocols
	}
	roundTrip := func(conn *tunnel.Conn) {
		t.Helper()
		defer conn.Close()
		_, err := conn.Write([]byte("ping"))
		require.NoError(t, err)
		got := make([]byte, 4)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadFull(conn, got)
		require.NoError(t, err)
		require.Equal(t, "ping", string(got))
	}
	_, status := connect(proxyURL, http.Header{})
	require.Equal(t, http.StatusUnauthorized, status)
	_, status = connect(proxyURL, http.Header{"Hearth-Connection-Ticket": {"not-a-ticket"}})
	require.Equal(t, http.StatusUnauthorized, status)
	conn, status := connect(proxyURL, http.Header{"Hearth-Connection-Ticket": {ticket["ticket"].(string)}})
	require.Equal(t, http.StatusSwitchingProtocols, status)
	roundTrip(conn)
	// The server reaches the agent through the proxy, for what comes to it (the dashboard, apps).
	conn, status = connect(srv.url, http.Header{"Authorization": {"Bearer " + token}})
	require.Equal(t, http.StatusSwitchingProtocols, status)
	roundTrip(conn)

	// Stopping the proxy drops the agent's tunnel and the proxy's instance at once.
	require.NoError(t, px.Process.Signal(syscall.SIGINT))
	require.NoError(t, px.Wait(), "a clean shutdown exits 0")
	until("the agent to be disconnected", func() bool { return agent()["status"] != "connected" })
	out, _, _ = c.run("", "proxies", "list")
	require.Contains(t, out, "false", "not healthy")

	// A deleted proxy's token is refused.
	_, errOut, code = c.run("", "proxies", "delete", "eu")
	require.Equal(t, 0, code, errOut)
	_, errOut, code = c.run("", "proxy", "--primary-url", srv.url, "--http-address", "127.0.0.1:0", "--proxy-token", proxyToken)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "not valid")
}

// startProxy runs hearth proxy on port and waits until it serves.
func startProxy(t *testing.T, primary, token string, port int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, "proxy", "--primary-url", primary, "--http-address", "127.0.0.1:"+strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "HEARTH_PROXY_TOKEN="+token, "HEARTH_LOG_LEVEL=warn")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Contains(t, line, "is serving at")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd
}

// echoServer listens "in the workspace" (the local template's workspaces share this machine's
// network) and echoes; it returns the port.
func echoServer(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(conn, conn); _ = conn.Close() }()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
