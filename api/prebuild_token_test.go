package api

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// An agent whose tunnel was down when its prebuild was claimed keeps its old token; when it
// connects its tunnel again with that token, the server hands it a fresh new token over the tunnel
// (replacing the one it never took), and once the agent has taken it the old one stops working.
func TestAnAgentThatMissedTheHandOverGetsItsTokenOnReconnect(t *testing.T) {
	t.Parallel()
	oldToken := strings.Repeat("ab", 32)
	oldHash := sha256.Sum256([]byte(oldToken))
	s := newClaimScene(t, oldHash[:])
	b, alice, ws, agent := s.bundle, s.alice, s.ws, s.agent
	ctx, q := t.Context(), b.db.Pool

	// The claim, while the agent's tunnel is down: the hand-over fails, the old token keeps working.
	res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"mine","template":"pre","preset":"team"}`, alice...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)
	require.Equal(t, ws, p["id"])
	hashes := func() (current, previous []byte) {
		require.NoError(t, q.QueryRow(ctx, "SELECT token_hash, previous_token_hash FROM workspace_agents WHERE id = $1", agent).Scan(&current, &previous))
		return current, previous
	}
	undelivered, previous := hashes()
	require.Equal(t, oldHash[:], previous)

	// The agent connects its tunnel with its old token, and answers the server's streams as an agent does.
	c, _, err := websocket.Dial(ctx, strings.Replace(b.srv.URL, "http", "ws", 1)+"/api/v2/workspaceagents/me/tunnel",
		&websocket.DialOptions{HTTPHeader: http.Header{"Hearth-Agent-Token": {oldToken}}})
	require.NoError(t, err)
	c.SetReadLimit(-1)
	session, err := yamux.Server(websocket.NetConn(ctx, c, websocket.MessageBinary), tunnel.Config())
	require.NoError(t, err)
	defer session.Close()
	st, err := session.AcceptStream()
	require.NoError(t, err)
	var h tunnel.Header
	require.NoError(t, tunnel.Read(st, &h))
	require.Equal(t, tunnel.KindReinit, h.Kind)
	sum := sha256.Sum256([]byte(h.Token))
	current, _ := hashes()
	require.Equal(t, hex.EncodeToString(sum[:]), hex.EncodeToString(current), "the token handed over is the agent's token now")
	require.NotEqual(t, undelivered, current, "the token it never took was replaced")
	// As the agent does: it checks the new token by fetching its manifest, then says it took it.
	res, p = call(t, "GET", b.srv.URL+"/api/v2/workspaceagents/me/manifest", "", "Hearth-Agent-Token", h.Token)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	require.Equal(t, "alice", p["owner_name"])
	require.NoError(t, tunnel.Write(st, tunnel.Reply{}))
	_ = st.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, previous := hashes(); previous == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "the old token is forgotten once the agent took the new one")
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(6 * time.Second) // the agent-token cache's lifetime
	res, p = call(t, "GET", b.srv.URL+"/api/v2/workspaceagents/me/manifest", "", "Hearth-Agent-Token", oldToken)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the old token no longer works: %v", p)
}

// claimScene is a server with an owner (admin), the member alice, and a ready prebuild
// (prebuildFixture) whose agent's token hashes to the given hash.
type claimScene struct {
	bundle
	admin, alice []string
	ws, agent    string
}

func newClaimScene(t *testing.T, tokenHash []byte) claimScene {
	t.Helper()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	s := claimScene{bundle: b, admin: admin, alice: newUser(t, b, admin, "alice")}
	s.ws, s.agent = prebuildFixture(t, b, tokenHash)
	return s
}

// prebuildFixture stores a ready prebuild of template "pre" (its preset "team" asks for one, and
// everyone may use it) whose one agent's token hashes to tokenHash; it returns the workspace's and
// the agent's IDs.
func prebuildFixture(t *testing.T, b bundle, tokenHash []byte) (ws, agent string) {
	t.Helper()
	ctx := t.Context()
	q := b.db.Pool
	var fileHash [32]byte
	fileHash[0] = 1
	_, err := q.Exec(ctx, "INSERT INTO files (hash, content_type, data) VALUES ($1, 'application/x-tar', $2)", fileHash[:], tarDir(t, "testdata/presets"))
	require.NoError(t, err)
	var version, tpl, build, resource string
	require.NoError(t, q.QueryRow(ctx, `INSERT INTO template_versions (file_hash, status, name, presets) VALUES ($1, 'succeeded', 'v1',
		'[{"name":"team","default":false,"parameters":{},"prebuilds":{"instances":1}}]') RETURNING id`, fileHash[:]).Scan(&version))
	require.NoError(t, q.QueryRow(ctx, "INSERT INTO templates (name, active_version_id) VALUES ('pre', $1) RETURNING id", version).Scan(&tpl))
	_, err = q.Exec(ctx, "UPDATE template_versions SET template_id = $1 WHERE id = $2", tpl, version)
	require.NoError(t, err)
	_, err = q.Exec(ctx, "INSERT INTO template_grants (template_id, group_id, role) VALUES ($1, '00000000-0000-0000-0000-00000000e0e0', 'use')", tpl)
	require.NoError(t, err)
	require.NoError(t, q.QueryRow(ctx, "INSERT INTO workspaces (owner_id, template_id, name, preset) VALUES ($1, $2, 'prebuild-1', 'team') RETURNING id",
		authz.PrebuildsOwner, tpl).Scan(&ws))
	require.NoError(t, q.QueryRow(ctx, `INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status)
		VALUES ($1, 1, $2, 'start', 'succeeded') RETURNING id`, ws, version).Scan(&build))
	require.NoError(t, q.QueryRow(ctx, "INSERT INTO workspace_resources (build_id, type, name) VALUES ($1, 'null_resource', 'dev') RETURNING id", build).Scan(&resource))
	require.NoError(t, q.QueryRow(ctx, `INSERT INTO workspace_agents (resource_id, build_id, name, os, arch, token_hash, lifecycle_state)
		VALUES ($1, $2, 'main', 'linux', 'amd64', $3, 'ready') RETURNING id`, resource, build, tokenHash).Scan(&agent))
	return ws, agent
}
