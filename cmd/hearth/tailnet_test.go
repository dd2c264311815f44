package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"tailscale.com/derp/derphttp"
	"tailscale.com/net/netmon"
	"tailscale.com/types/key"

	"github.com/hearthdev/hearth/internal/connect"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tailnet"
	"github.com/hearthdev/hearth/internal/tftest"
)

// Direct connections on one machine: the CLI and the agent find a direct WireGuard path (through
// the server's STUN, on loopback), hearth ssh runs over it, another member cannot join the
// agent's tailnet, and a revoked token loses its peers.
func TestDirectConnections(t *testing.T) {
	t.Parallel()
	w := tailnetWorkspace(t)
	s, c, api, agentID, dir := w.s, w.c, w.api, w.agentID, w.dir
	c.env = []string{"HEARTH_CONNECTION_PATH=auto"} // as people run it
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "workspaces", "ada", "dev", ".hearth", "agent.log"))
			t.Logf("the agent's log:\n%s", log)
		}
	})

	// hearth ping says which path its pongs took; a direct one appears after a few.
	out, errOut, code := c.run("", "ping", "dev", "-n", "10", "--interval", "200ms")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "pong from dev via direct 127.0.0.1:", "no direct path in:\n%s", out)

	// hearth ssh as people run it, then over WireGuard only (no relay to fall back on), exit codes included.
	out, errOut, code = c.run("", "ssh", "dev", "--", "echo", "hi")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "hi\n", out)
	out, errOut, code = c.runEnv([]string{"HEARTH_CONNECTION_PATH=tailnet"}, "", "ssh", "dev", "--", "echo", "hi")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "hi\n", out)
	_, _, code = c.runEnv([]string{"HEARTH_CONNECTION_PATH=tailnet"}, "", "ssh", "dev", "--", "exit 7")
	require.Equal(t, 7, code)

	// WireGuard bytes never pass the server: the coordination itself marks the workspace used
	// (activity is written in batches every 10 s), which keeps it from its autostop.
	lastUsed := func() string { return api("GET", "/api/v2/users/me/workspaces/dev", "")["last_used_at"].(string) }
	before := lastUsed()
	_, errOut, code = c.runEnv([]string{"HEARTH_CONNECTION_PATH=tailnet"}, "", "ssh", "dev", "--", "sleep", "1")
	require.Equal(t, 0, code, errOut)
	waitUntil(t, "the session to count as use", func() bool { return lastUsed() != before })

	// While a session is open, the agent reports its client's path to the API (the dashboard shows it).
	session := exec.Command(binary, "ssh", "dev", "--", "sleep", "60")
	session.Env = append(os.Environ(), "HEARTH_CONFIG_DIR="+c.dir, "HEARTH_CONNECTION_PATH=tailnet")
	require.NoError(t, session.Start())
	defer func() { _ = session.Process.Kill(); _ = session.Wait() }()
	var peer map[string]any
	waitUntil(t, "the agent to report a direct peer", func() bool {
		stats := api("GET", "/api/v2/workspaceagents/"+agentID, "")["stats"].(map[string]any)
		peers, _ := stats["peers"].([]any)
		for _, p := range peers {
			if p.(map[string]any)["path"] == "direct" {
				peer = p.(map[string]any)
				return stats["preferred_derp"] == float64(1)
			}
		}
		return false
	})
	require.Contains(t, peer["endpoint"], "127.0.0.1:", peer)
	_ = session.Process.Kill()

	// A speed test waits for the direct path, then measures over it; netcheck finds UDP and the
	// deployment's DERP region.
	out, errOut, code = c.run("", "speedtest", "dev", "-t", "500ms", "--direct-wait", "20s") // a loaded machine may take more than the default 3 s
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `(?m)^Path: +direct to 127\.0\.0\.1:`, out)
	require.Regexp(t, `(?m)^Upload: +[0-9.]+ Mbit/s`, out)
	require.Regexp(t, `(?m)^Download: +[0-9.]+ Mbit/s`, out)
	t.Logf("speedtest:\n%s", out)
	out, errOut, code = c.run("", "netcheck", "-o", "json")
	require.Equal(t, 0, code, errOut)
	var report tailnet.NetReport
	require.NoError(t, json.Unmarshal([]byte(out), &report), out)
	require.True(t, report.UDP, out)
	require.Equal(t, 1, report.PreferredDERP, out)

	// The DERP map is published; the coordinator gives it first.
	m := api("GET", "/api/v2/derp-map", "")
	require.Equal(t, s.url, m["regions"].([]any)[0].(map[string]any)["url"])

	// Another member cannot join the agent's tailnet.
	api("POST", "/api/v2/users", `{"username":"bob","email":"bob@example.com","password":"bobs-password"}`)
	bob := callAPI(t, "POST", s.url+"/api/v2/users/login", "", "application/json", []byte(`{"login":"bob","password":"bobs-password"}`))["session_token"].(string)
	require.Equal(t, http.StatusNotFound, dialStatus(t, s.url, "/api/v2/workspaceagents/"+agentID+"/coordinate?id="+uuid.NewString(), bob))

	// A token revoked while it coordinates: the coordinator closes within 5 s, and the agent forgets the node.
	tok := api("POST", "/api/v2/users/me/tokens", `{"name":"revoked"}`)
	ws := dialWS(t, s.url+"/api/v2/workspaceagents/"+agentID+"/coordinate?id="+uuid.NewString(), tok["token"].(string))
	defer func() { _ = ws.CloseNow() }()
	var first tailnet.Update
	readJSON(t, ws, &first)
	require.NotNil(t, first.DERPMap)
	api("DELETE", "/api/v2/users/me/tokens/"+tok["id"].(string), "")
	revoked := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "closed by the coordinator, not by the deadline: %v", err)
			break
		}
	}
	took := time.Since(revoked)
	t.Logf("the revoked token's coordination closed %s after the revocation", took.Round(time.Millisecond))
	require.Less(t, took, 5*time.Second)
}

// What the coordinator and DERP refuse: a node that is not the one its connection is for, a key
// another node has, a client that takes the agent's ID, an oversized message, and a DERP client whose key no coordinator knows.
func TestTailnetRefusesBadNodes(t *testing.T) {
	t.Parallel()
	w := tailnetWorkspace(t)
	s, token, pg, agentID := w.s, w.token, w.pg, w.agentID

	coordinate := func(id uuid.UUID, msg []byte) error {
		t.Helper()
		ws := dialWS(t, s.url+"/api/v2/workspaceagents/"+agentID+"/coordinate?id="+id.String(), token)
		defer func() { _ = ws.CloseNow() }()
		var first tailnet.Update
		readJSON(t, ws, &first)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		require.NoError(t, ws.Write(ctx, websocket.MessageText, msg))
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return err
			}
		}
	}
	node := func(id uuid.UUID, k key.NodePublic) []byte {
		b, err := json.Marshal(tailnet.Message{Node: &tailnet.Node{ID: id, Key: k, DiscoKey: key.NewDisco().Public(),
			Addresses: []netip.Prefix{netip.PrefixFrom(tailnet.IP(id), 128)}}})
		require.NoError(t, err)
		return b
	}
	id := uuid.New()
	err := coordinate(id, node(uuid.New(), key.NewNode().Public()))
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "a node claiming another ID: %v", err)
	require.Contains(t, err.Error(), "the node says it is")

	// The agent's key, as the agent told the coordinator, claimed by a client.
	agentKey := agentNodeKey(t, pg, agentID)
	err = coordinate(id, node(id, agentKey))
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "a forged key: %v", err)
	require.Contains(t, err.Error(), "another node has this key")

	// A client that takes the agent's ID as its own, to pass for the agent with a key of its own.
	agentUUID := uuid.MustParse(agentID)
	err = coordinate(agentUUID, node(agentUUID, key.NewNode().Public()))
	require.Equal(t, websocket.StatusPolicyViolation, websocket.CloseStatus(err), "a client with the agent's ID: %v", err)
	require.Contains(t, err.Error(), "another node has this key or this ID")
	require.Equal(t, agentKey, agentNodeKey(t, pg, agentID), "the agent's node is still the agent's")

	err = coordinate(id, []byte(`{"node":{"id":"`+id.String()+`","endpoints":["`+strings.Repeat("x", tailnet.MaxMessage)+`"]}}`))
	require.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "an oversized message: %v", err)

	// DERP: a client with a key nobody coordinates is refused; the server keeps serving.
	dc, err := derphttp.NewClient(key.NewNode(), s.url+"/derp", t.Logf, netmon.NewStatic())
	require.NoError(t, err)
	defer func() { _ = dc.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = dc.Connect(ctx)
	if err == nil {
		_, err = dc.Recv()
	}
	require.Error(t, err, "a stranger's DERP connection")
	out, status := get(t, s.url+"/api/v2/derp-map", token)
	require.Equal(t, http.StatusOK, status, out)
}

// tailnetScene is a server with direct connections on, a signed-in CLI and a running
// local-template workspace "dev".
type tailnetScene struct {
	s       *running
	c       cli
	token   string
	pg      string
	agentID string
	dir     string
	api     func(method, path, body string) map[string]any
}

func tailnetWorkspace(t testing.TB) *tailnetScene {
	t.Helper()
	w := &tailnetScene{dir: t.TempDir(), pg: dbtest.NewURL(t)}
	w.s = startServer(t, "--postgres-url", w.pg, "--data-dir", filepath.Join(w.dir, "server"), "--provisioners", "2",
		"--provider-mirror", tftest.Mirror(t), "--derp=true")
	w.c, w.token = signIn(t, w.s.url, filepath.Join(w.dir, "cli"))
	w.api = func(method, path, body string) map[string]any {
		return callAPI(t, method, w.s.url+path, w.token, "application/json", []byte(body))
	}
	w.agentID = localWorkspace(t, w.api, w.s.url, w.token, "dev", `{"name":"workspaces_dir","value":"`+filepath.Join(w.dir, "workspaces")+`"}`)()["id"].(string)
	return w
}

// runEnv runs the CLI with more environment.
func (c cli) runEnv(env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	c.env = append(slices.Clone(c.env), env...)
	return c.run(stdin, args...)
}

func readJSON(t testing.TB, ws *websocket.Conn, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v))
}

// agentNodeKey is the key the agent's node registered with the coordinator, once it did.
func agentNodeKey(t testing.TB, pg, agentID string) key.NodePublic {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), pg)
	require.NoError(t, err)
	defer func() { _ = conn.Close(context.Background()) }()
	var k key.NodePublic
	waitUntil(t, "the agent's node", func() bool {
		var text string
		if conn.QueryRow(t.Context(), "SELECT node_key FROM tailnet_peers WHERE agent_id = $1 AND kind = 'agent'", agentID).Scan(&text) != nil {
			return false
		}
		return k.UnmarshalText([]byte(text)) == nil
	})
	return k
}

// Two replicas with their own access URLs: the agent's home DERP is replica A's, the CLI's is B's.
// With no UDP path at all (the CLI advertises and tries no endpoint), packets still cross through
// the meshed DERP servers, and hearth ssh runs over them.
func TestDERPAcrossReplicas(t *testing.T) {
	t.Parallel()
	w := connectedWorkspace(t, "--derp=true")
	noUDP := []string{tailnet.EndpointsEnv + "=192.0.2.255/32", connect.PathEnv + "=tailnet"}
	var out, errOut string
	var code int
	// A meshes with B once it has seen B register (its next heartbeat, within 10 s).
	w.until("a pong through DERP", func() bool {
		out, errOut, code = w.c.runEnv(noUDP, "", "ping", "dev", "-n", "1")
		return code == 0 && strings.Contains(out, "via DERP(hearth)")
	})
	out, errOut, code = w.c.runEnv(noUDP, "", "ssh", "dev", "--", "echo", "over DERP")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "over DERP\n", out)

	// The packets crossed between the replicas' DERP servers, as their metrics count.
	forwarded := 0.0
	for _, r := range []*running{w.a, w.b} {
		m := scrape(t, r.url)
		forwarded += m[`hearth_derp_packets_total{direction="forwarded_out"}`]
		t.Logf("%s: DERP clients %v, forwarded in %v out %v, dropped for an unknown destination %v (disco %v)", r.url,
			m["hearth_derp_clients"], m[`hearth_derp_packets_total{direction="forwarded_in"}`], m[`hearth_derp_packets_total{direction="forwarded_out"}`],
			m[`hearth_derp_packets_dropped_total{kind="other",reason="unknown_dest"}`], m[`hearth_derp_packets_dropped_total{kind="disco",reason="unknown_dest"}`])
	}
	require.Positive(t, forwarded)
}

// scrape reads a server's metrics: each series (name and labels, as exposed) and its value.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	res, err := http.Get(url + "/metrics") //nolint:noctx // a test's read
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return parseMetrics(string(raw))
}

// parseMetrics reads Prometheus's text format: each series (name and labels) and its value.
func parseMetrics(text string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
