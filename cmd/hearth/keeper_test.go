package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// hearth ssh keeps its WireGuard node up between commands, in a keeper process of the session's:
// the first command starts it, the next ones connect through it. A revoked token ends the
// keeper's node within 5 s, and the commands that follow are refused.
func TestSSHKeepsItsNodeBetweenCommands(t *testing.T) {
	t.Parallel()
	w := tailnetWorkspace(t)
	s, c, api, pg, agentID := w.s, w.c, w.api, w.pg, w.agentID

	// The CLI runs with a token of its own, to revoke later.
	tok := api("POST", "/api/v2/users/me/tokens", `{"name":"cli"}`)
	env := []string{"HEARTH_URL=" + s.url, "HEARTH_SESSION_TOKEN=" + tok["token"].(string), "HEARTH_CONNECTION_PATH=tailnet", "HEARTH_DEBUG_TAILNET=1"}
	out, errOut, code := c.runEnv(env, "", "ssh", "dev", "--", "echo", "hi")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "hi\n", out)
	require.NotContains(t, errOut, "through the CLI's keeper", "the first command connects by itself")
	waitUntil(t, "the keeper's socket", func() bool {
		socks, _ := filepath.Glob(filepath.Join(c.dir, "keeper-*.sock"))
		return len(socks) == 1
	})
	for range 3 {
		out, errOut, code = c.runEnv(env, "", "ssh", "dev", "--", "echo", "hi")
		require.Equal(t, 0, code, errOut)
		require.Equal(t, "hi\n", out)
		require.Contains(t, errOut, "through the CLI's keeper")
	}

	// The keeper's node is the user's one client of the agent; revoking the token removes it.
	clients := func() int {
		conn, err := pgx.Connect(t.Context(), pg)
		require.NoError(t, err)
		defer func() { _ = conn.Close(context.Background()) }()
		var n int
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM tailnet_peers WHERE agent_id = $1 AND kind = 'client'", agentID).Scan(&n))
		return n
	}
	waitUntil(t, "the keeper's node alone", func() bool { return clients() == 1 })
	api("DELETE", "/api/v2/users/me/tokens/"+tok["id"].(string), "")
	revoked := time.Now()
	waitUntil(t, "the keeper's node to be gone", func() bool { return clients() == 0 })
	took := time.Since(revoked)
	t.Logf("the keeper's node was gone %s after the revocation", took.Round(time.Millisecond))
	require.Less(t, took, 5*time.Second)
	_, errOut, code = c.runEnv(env, "", "ssh", "dev", "--", "echo", "hi")
	require.NotEqual(t, 0, code, "a revoked token connects no more, keeper or not")
	require.Contains(t, errOut, "The token is invalid, expired or revoked.")
}

// A local-template workspace is its directory: its agent stops once the directory is gone (as it
// does at the end of every test that leaves its workspace running).
func TestLocalAgentStopsWithItsDirectory(t *testing.T) {
	t.Parallel()
	w := tailnetWorkspace(t)
	home := filepath.Join(w.dir, "workspaces", "ada", "dev")
	pid, ok := alive(t, filepath.Join(home, ".hearth", "agent.pid"))
	require.True(t, ok)
	require.NoError(t, os.RemoveAll(home))
	waitUntil(t, "the agent to stop", func() bool {
		return w.api("GET", "/api/v2/workspaceagents/"+w.agentID, "")["status"] == "disconnected"
	})
	waitUntil(t, "the agent's process to exit", func() bool {
		// Gone, or a zombie its adoptive parent has not reaped yet.
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		_, rest, _ := strings.Cut(string(stat), ") ")
		return strings.HasPrefix(rest, "Z")
	})
}
