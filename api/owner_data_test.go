package api

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// data.coder_workspace_owner is filled in: the owner's Git SSH key pair (the public half is what
// GET /users/me/gitsshkey shows, and a reset reaches the next start), a session token that acts as
// the owner until the workspace stops, the login type and the roles.
func TestTemplatesKnowTheirOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	root := t.TempDir()
	res, p := call(t, "POST", b.srv.URL+"/api/v2/groups", `{"name":"platform","members":["ada"]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)
	pushTemplate(t, b, admin, "testdata/owner", "owner", root)
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"mine","template":"owner"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	require.Equal(t, "succeeded", waitBuild(t, b, admin, ws["latest_build"].(map[string]any)["id"].(string))["status"])
	read := func(name string) string {
		raw, err := os.ReadFile(filepath.Join(root, "mine", name))
		require.NoError(t, err)
		return string(raw)
	}

	_, key := call(t, "GET", b.srv.URL+"/api/v2/users/me/gitsshkey", "", admin...)
	require.Equal(t, key["public_key"], read("ssh_public_key"))
	signer, err := ssh.ParsePrivateKey([]byte(read("ssh_private_key")))
	require.NoError(t, err, "an OpenSSH private key")
	require.Equal(t, key["public_key"], string(ssh.MarshalAuthorizedKey(signer.PublicKey()))[:len(key["public_key"].(string))], "the pair's halves match")
	var raw []byte
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), "SELECT private_key_sealed FROM user_git_ssh_keys").Scan(&raw))
	require.NotContains(t, string(raw), "PRIVATE KEY", "stored sealed")

	require.Equal(t, "password", read("login_type"))
	require.Empty(t, read("oidc_access_token"), "no OIDC sign-in, no OIDC token")
	var roles []map[string]string
	require.NoError(t, json.Unmarshal([]byte(read("rbac_roles")), &roles))
	require.Contains(t, roles, map[string]string{"name": "owner", "org_id": ""})
	require.JSONEq(t, `["everyone","platform"]`, read("groups"), "the owner's groups, everyone included")
	token := []string{"Authorization", "Bearer " + read("session_token")}
	res, me := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", token...)
	require.Equal(t, http.StatusOK, res.StatusCode, me)
	require.Equal(t, "ada", me["username"], "the session token acts as the owner")

	// A reset key reaches the next start; the stop revoked the old token.
	res, reset := call(t, "PUT", b.srv.URL+"/api/v2/users/me/gitsshkey", "", admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, reset)
	require.NotEqual(t, key["public_key"], reset["public_key"])
	id := ws["id"].(string)
	build(t, b, admin, id, `{"transition":"stop"}`)
	waitFor(t, func() bool { // within the 5 s a replica may keep a credential it checked
		res, _ := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", token...)
		return res.StatusCode == http.StatusUnauthorized
	}, "a stopped workspace's token is revoked")
	build(t, b, admin, id, `{"transition":"start"}`)
	require.Equal(t, reset["public_key"], read("ssh_public_key"))
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+read("session_token"))
	require.Equal(t, http.StatusOK, res.StatusCode, "each start brings a fresh token")
}
