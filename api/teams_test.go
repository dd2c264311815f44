package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Two groups, two members, two templates: each member sees and uses only their group's template,
// and an admin of one template cannot touch the other.
func TestGroupsDecideWhoUsesWhichTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	alice := newUser(t, b, admin, "alice")
	bob := newUser(t, b, admin, "bob")
	for _, g := range []string{`{"name":"red","members":["alice"]}`, `{"name":"blue","display_name":"Blue team","members":["bob"]}`} {
		res, p := call(t, "POST", b.srv.URL+"/api/v2/groups", g, admin...)
		require.Equal(t, http.StatusCreated, res.StatusCode, p)
	}
	for _, name := range []string{"red-tpl", "blue-tpl"} {
		lifecycleTemplate(t, b, admin, t.TempDir(), name)
		_, acl := call(t, "GET", b.srv.URL+"/api/v2/templates/"+name+"/acl", "", admin...)
		require.Equal(t, "everyone", acl["groups"].([]any)[0].(map[string]any)["name"], "new templates are everyone's to use")
	}
	res, p := call(t, "PATCH", b.srv.URL+"/api/v2/templates/red-tpl/acl", `{"groups":{"everyone":"","red":"use"},"users":{"alice":"admin"}}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/templates/blue-tpl/acl", `{"groups":{"everyone":"","blue":"use"}}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)

	names := func(who []string) []string {
		_, list := call(t, "GET", b.srv.URL+"/api/v2/templates", "", who...)
		var out []string
		for _, tpl := range list["templates"].([]any) {
			out = append(out, tpl.(map[string]any)["name"].(string))
		}
		return out
	}
	require.Equal(t, []string{"red-tpl"}, names(alice))
	require.Equal(t, []string{"blue-tpl"}, names(bob))
	require.Equal(t, []string{"blue-tpl", "red-tpl"}, names(admin))

	res, p = call(t, "GET", b.srv.URL+"/api/v2/templates/blue-tpl", "", alice...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p)
	res, p = call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"sneak","template":"blue-tpl","parameters":[{"name":"region","value":"eu"}]}`, alice...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p)
	require.Equal(t, "body.template", firstLocation(p))

	// alice administers red-tpl (granted to her by name) and nothing else.
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/templates/red-tpl", `{"description":"alice's"}`, alice...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/templates/red-tpl/acl", `{"users":{"bob":"use"}}`, alice...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	require.Contains(t, names(bob), "red-tpl", "a template granted to a user by name")
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/templates/blue-tpl", `{"description":"mine now"}`, alice...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p)
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/templates/red-tpl", `{"description":"bob's"}`, bob...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, p, "use is not admin")

	// A member leaves the group: the template goes from their list at once.
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/groups/blue", `{"remove_members":["bob"]}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	require.Equal(t, []string{"red-tpl"}, names(bob))
}

func TestGroupsRefuseBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	newUser(t, b, admin, "alice")
	for _, tc := range []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", "/api/v2/groups", `{"name":"Not A Name"}`, http.StatusUnprocessableEntity, "body.name"},
		{"POST", "/api/v2/groups", `{"name":"eng","members":["nobody"]}`, http.StatusBadRequest, "body.members[0]"},
		{"POST", "/api/v2/groups", `{"name":"everyone"}`, http.StatusConflict, "body.name"},
		{"PATCH", "/api/v2/groups/everyone", `{"add_members":["alice"]}`, http.StatusBadRequest, "path.group"},
		{"DELETE", "/api/v2/groups/everyone", ``, http.StatusBadRequest, "path.group"},
		{"PATCH", "/api/v2/groups/nope", `{"display_name":"x"}`, http.StatusNotFound, "path.group"},
	} {
		res, p := call(t, tc.method, b.srv.URL+tc.path, tc.body, admin...)
		require.Equal(t, tc.status, res.StatusCode, "%s %s %s: %v", tc.method, tc.path, tc.body, p)
		require.Equal(t, tc.field, firstLocation(p), p)
	}
	// Nothing half-made: the group whose member was unknown does not exist.
	res, _ := call(t, "GET", b.srv.URL+"/api/v2/groups/eng", "", admin...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// A workspace shared for use is seen, started and stopped by the grantee, not deleted or shared on;
// unshared, it is gone for them at once.
func TestSharingAWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	lifecycleTemplate(t, b, admin, t.TempDir(), "files")
	alice := newUser(t, b, admin, "alice")
	bob := newUser(t, b, admin, "bob")
	carol := newUser(t, b, admin, "carol")
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"dev","template":"files","parameters":[{"name":"region","value":"eu"}]}`, alice...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	id := ws["id"].(string)
	waitBuild(t, b, alice, ws["latest_build"].(map[string]any)["id"].(string))
	acl := b.srv.URL + "/api/v2/workspaces/" + id + "/acl"

	for _, tc := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"users":{"nobody":"use"}}`, http.StatusBadRequest, "body.users.nobody"},
		{`{"groups":{"nogroup":"use"}}`, http.StatusBadRequest, "body.groups.nogroup"},
		{`{"users":{"bob":"owner"}}`, http.StatusBadRequest, "body.users.bob"},
		{`{"users":{"alice":"use"}}`, http.StatusBadRequest, "body.users"},
	} {
		res, p := call(t, "PATCH", acl, tc.body, alice...)
		require.Equal(t, tc.status, res.StatusCode, "%s: %v", tc.body, p)
		require.Equal(t, tc.field, firstLocation(p), p)
	}
	res, p := call(t, "PATCH", acl, `{"users":{"bob":"use"}}`, carol...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p, "a stranger does not even see it")

	res, p = call(t, "PATCH", acl, `{"users":{"bob":"use"}}`, alice...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	res, p = call(t, "GET", b.srv.URL+"/api/v2/users/alice/workspaces/dev", "", bob...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	_, list := call(t, "GET", b.srv.URL+"/api/v2/workspaces", "", bob...)
	require.EqualValues(t, 1, list["count"], "shared workspaces are listed")
	_, list = call(t, "GET", b.srv.URL+"/api/v2/workspaces", "", carol...)
	require.EqualValues(t, 0, list["count"])
	stop := build(t, b, bob, id, `{"transition":"stop"}`)
	waitBuild(t, b, bob, stop["id"].(string))
	res, p = call(t, "DELETE", b.srv.URL+"/api/v2/workspaces/"+id, "", bob...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, p)
	res, p = call(t, "PATCH", acl, `{"users":{"carol":"use"}}`, bob...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, p, "use does not share on")

	// Through a group, with admin.
	res, p = call(t, "POST", b.srv.URL+"/api/v2/groups", `{"name":"ops","members":["carol"]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)
	res, p = call(t, "PATCH", acl, `{"groups":{"ops":"admin"},"users":{"bob":""}}`, alice...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	require.Empty(t, p["users"])
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/workspaces/"+id, `{"name":"renamed"}`, carol...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	res, p = call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+id, "", bob...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p, "unshared: gone at once")

	var entries int
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM audit_log WHERE action = 'update-workspace-acl' AND status = 200").Scan(&entries))
	require.Equal(t, 2, entries, "sharing is audited")
}
