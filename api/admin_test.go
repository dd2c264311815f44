package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// login signs a user in and returns the Authorization header to send as them.
func login(t *testing.T, b bundle, username, password string) []string {
	t.Helper()
	res, body := call(t, "POST", b.srv.URL+"/api/v2/users/login", fmt.Sprintf(`{"login":%q,"password":%q}`, username, password))
	require.Equal(t, http.StatusOK, res.StatusCode, body)
	return []string{"Authorization", "Bearer " + body["session_token"].(string)}
}

// newUser creates a user as the given admin and signs them in.
func newUser(t *testing.T, b bundle, admin []string, username string, roles ...string) []string {
	t.Helper()
	r, _ := json.Marshal(roles)
	body := fmt.Sprintf(`{"username":%q,"email":"%s@example.com","password":"password-%s","roles":%s}`, username, username, username, r)
	res, p := call(t, "POST", b.srv.URL+"/api/v2/users", body, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)
	return login(t, b, username, "password-"+username)
}

func firstLocation(p map[string]any) string {
	errs, _ := p["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	return errs[0].(map[string]any)["location"].(string)
}

func TestUserAdministration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.srv.URL + "/api/v2/users"
	own := []string{"Authorization", "Bearer " + owner(t, b)}
	admin := newUser(t, b, own, "uadmin", "user-admin")
	bob := newUser(t, b, admin, "bob")
	newUser(t, b, admin, "carol")

	// Only owners grant the owner role.
	res, _ := call(t, "POST", u, `{"username":"eve","email":"eve@example.com","roles":["owner"]}`, admin...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, p := call(t, "POST", u, `{"username":"bob","email":"other@example.com"}`, admin...)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Equal(t, "body.username", firstLocation(p))
	res, p = call(t, "POST", u, `{"username":"bobby","email":"BOB@example.com"}`, admin...)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Equal(t, "body.email", firstLocation(p))
	res, p = call(t, "POST", u, `{"username":"this-name-is-far-too-long-for-a-username","email":"x@example.com"}`, admin...)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Equal(t, "body.username", firstLocation(p))

	// Search and paging.
	res, p = call(t, "GET", u+"?search=D&limit=1", "", admin...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.EqualValues(t, 2, p["count"], "ada and uadmin")
	require.Len(t, p["users"], 1)
	require.Equal(t, "ada", p["users"].([]any)[0].(map[string]any)["username"])
	_, p = call(t, "GET", u+"?search=D&limit=1&offset=1", "", admin...)
	require.Equal(t, "uadmin", p["users"].([]any)[0].(map[string]any)["username"])
	_, p = call(t, "GET", u+"?search=D&offset=10", "", admin...)
	require.EqualValues(t, 2, p["count"])
	require.Empty(t, p["users"])

	// Members see themselves only; others do not exist for them.
	res, _ = call(t, "GET", u, "", bob...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = call(t, "GET", u+"/carol", "", bob...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = call(t, "GET", u+"/nobody", "", bob...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, p = call(t, "PATCH", u+"/me", `{"name":"Bob B"}`, bob...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "Bob B", p["name"])
	res, _ = call(t, "PATCH", u+"/carol", `{"name":"Mallory"}`, bob...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = call(t, "PATCH", u+"/ada", `{"name":"Not Ada"}`, admin...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "only owners change owners")

	// Suspension stops the user's credentials; activation restores them.
	res, _ = call(t, "POST", u+"/bob/suspend", "", admin...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = call(t, "GET", u+"/me", "", bob...)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, _ = call(t, "POST", u+"/bob/activate", "", admin...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = call(t, "GET", u+"/me", "", bob...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, p = call(t, "POST", u+"/me/suspend", "", admin...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Equal(t, "path.user", firstLocation(p))

	// Passwords: your own needs the current one; a change signs you out elsewhere.
	res, p = call(t, "PUT", u+"/me/password", `{"old_password":"wrong","password":"new-password-1"}`, bob...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Equal(t, "body.old_password", firstLocation(p))
	other := login(t, b, "bob", "password-bob")
	res, _ = call(t, "PUT", u+"/me/password", `{"old_password":"password-bob","password":"new-password-1"}`, bob...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = call(t, "GET", u+"/me", "", bob...)
	require.Equal(t, http.StatusOK, res.StatusCode, "the session that changed it stays")
	res, _ = call(t, "GET", u+"/me", "", other...)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, _ = call(t, "PUT", u+"/bob/password", `{"password":"admin-set-1"}`, admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = call(t, "GET", u+"/me", "", bob...)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "an admin's change signs the user out everywhere")
	bob = login(t, b, "bob", "admin-set-1")

	// Roles: the last active owner keeps the role.
	res, p = call(t, "PUT", u+"/me/roles", `{"roles":[]}`, own...)
	require.Equal(t, http.StatusConflict, res.StatusCode, p)
	res, _ = call(t, "PUT", u+"/carol/roles", `{"roles":["owner"]}`, admin...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, p = call(t, "PUT", u+"/carol/roles", `{"roles":["template-admin","auditor"]}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.ElementsMatch(t, []any{"template-admin", "auditor"}, p["roles"])
	res, _ = call(t, "PUT", u+"/carol/roles", `{"roles":["root"]}`, admin...)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)

	// Admins see and revoke anyone's tokens; members only their own.
	res, tok := call(t, "POST", u+"/me/tokens", `{"name":"laptop"}`, bob...)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	bobToken := []string{"Authorization", "Bearer " + tok["token"].(string)}
	res, _ = call(t, "POST", u+"/carol/tokens", `{"name":"sneaky"}`, admin...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = call(t, "GET", u+"/bob/tokens", "", newUser(t, b, admin, "dave")...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, p = call(t, "GET", u+"/bob/tokens", "", admin...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Len(t, p["tokens"], 1)
	res, _ = call(t, "DELETE", u+"/bob/tokens/"+tok["id"].(string), "", admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = call(t, "GET", u+"/me", "", bobToken...)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	// Deleting a user ends their sessions.
	res, _ = call(t, "DELETE", u+"/me", "", admin...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	res, _ = call(t, "DELETE", u+"/bob", "", admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = call(t, "GET", u+"/me", "", bob...)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, _ = call(t, "GET", u+"/bob", "", admin...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

func TestScopedTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	own := []string{"Authorization", "Bearer " + owner(t, b)}
	res, tok := call(t, "POST", b.srv.URL+"/api/v2/users/me/tokens", `{"name":"reader","scopes":["user:read"]}`, own...)
	require.Equal(t, http.StatusCreated, res.StatusCode, tok)
	reader := []string{"Authorization", "Bearer " + tok["token"].(string)}
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/users", "", reader...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/users", `{"username":"x","email":"x@example.com"}`, reader...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/users/me/tokens", `{"name":"escalate"}`, reader...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a scoped token cannot mint a broader one")
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/audit", "", reader...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	own := []string{"Authorization", "Bearer " + owner(t, b)}
	bob := newUser(t, b, own, "bob")
	auditor := newUser(t, b, own, "aud", "auditor")
	call(t, "PATCH", b.srv.URL+"/api/v2/users/bob", `{"name":"Robert"}`, append(own, "User-Agent", "audit-test/1")...)
	call(t, "POST", b.srv.URL+"/api/v2/users", `{"username":"x","email":"x@example.com"}`, bob...) // refused
	call(t, "POST", b.srv.URL+"/api/v2/users/login", `{"login":"bob","password":"wrong-password"}`)

	res, _ := call(t, "GET", b.srv.URL+"/api/v2/audit", "", bob...)
	require.Equal(t, http.StatusForbidden, res.StatusCode)

	res, p := call(t, "GET", b.srv.URL+"/api/v2/audit?action=update-user", "", auditor...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	entries := p["entries"].([]any)
	require.Len(t, entries, 1)
	e := entries[0].(map[string]any)
	require.Equal(t, "ada", e["username"])
	require.Equal(t, "user", e["resource_type"])
	require.Equal(t, "bob", e["resource_name"])
	require.Equal(t, "audit-test/1", e["user_agent"])
	require.Equal(t, "127.0.0.1", e["ip"])
	require.NotEmpty(t, e["request_id"])
	require.Equal(t, "success", e["result"])
	require.Equal(t, map[string]any{"name": map[string]any{"old": "", "new": "Robert"}}, e["diff"])

	res, p = call(t, "GET", b.srv.URL+"/api/v2/audit?result=failure", "", auditor...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var failures []string
	for _, e := range p["entries"].([]any) {
		m := e.(map[string]any)
		failures = append(failures, fmt.Sprintf("%s %s %v", m["action"], m["username"], m["status"]))
	}
	require.ElementsMatch(t, []string{"create-user bob 403", "login  401"}, failures)

	// Paging and no secret anywhere in the log.
	res, p = call(t, "GET", b.srv.URL+"/api/v2/audit?limit=2", "", auditor...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	page := p["entries"].([]any)
	require.Len(t, page, 2)
	last := page[1].(map[string]any)["id"].(float64)
	res, p = call(t, "GET", fmt.Sprintf("%s/api/v2/audit?limit=500&before=%d", b.srv.URL, int64(last)), "", auditor...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	for _, e := range p["entries"].([]any) {
		require.Less(t, e.(map[string]any)["id"].(float64), last)
	}
	var raw []byte
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), "SELECT coalesce(json_agg(audit_log)::text, '') FROM audit_log").Scan(&raw))
	for _, secret := range []string{"correct-horse", "password-bob", "wrong-password", "hrt_"} {
		require.NotContains(t, string(raw), secret)
	}
	require.NotContains(t, string(raw), "argon2")
	require.Contains(t, string(raw), `"login_types": {"new": ["password"]}`)
	res, p = call(t, "GET", b.srv.URL+"/api/v2/audit?since=yesterday", "", auditor...)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Equal(t, "query.since", firstLocation(p))
}
