package api

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/api/workspace"
	"github.com/hearthdev/hearth/internal/acl"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
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

// The access and quota checks build requests make, with a realistic number of grants on the
// template and the workspace (20 other groups each) and quotas on (a version that costs, the
// owner's lock, 19 other running workspaces): a start by someone the workspace is shared with
// through a group reads the workspace's access list, a create reads the template's; then each
// checks the quota of its start (target: at most 1 ms p95 added to a build request).
func BenchmarkAccessChecks(b *testing.B) {
	bb := setup(b)
	ctx := context.Background()
	q := bb.db.Pool
	var userID, tpl, ws, group string
	require.NoError(b, q.QueryRow(ctx, "INSERT INTO users (username, email) VALUES ('grantee', 'g@example.com') RETURNING id").Scan(&userID))
	var owner uuid.UUID
	require.NoError(b, q.QueryRow(ctx, "INSERT INTO users (username, email) VALUES ('owner', 'o@example.com') RETURNING id").Scan(&owner))
	require.NoError(b, q.QueryRow(ctx, "INSERT INTO groups (name) VALUES ('team') RETURNING id").Scan(&group))
	_, err := q.Exec(ctx, "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)", group, userID)
	require.NoError(b, err)
	f := (&walker{b: bb}).fixture(b, owner)
	ws = f.workspace
	require.NoError(b, q.QueryRow(ctx, "SELECT id FROM templates WHERE name = $1", f.template).Scan(&tpl))
	for i := range 20 { // other groups on both lists
		var g string
		require.NoError(b, q.QueryRow(ctx, "INSERT INTO groups (name) VALUES ($1) RETURNING id", fmt.Sprintf("other-%d", i)).Scan(&g))
		_, err = q.Exec(ctx, "INSERT INTO template_grants (template_id, group_id, role) VALUES ($1, $2, 'use')", tpl, g)
		require.NoError(b, err)
		_, err = q.Exec(ctx, "INSERT INTO workspace_grants (workspace_id, group_id, role) VALUES ($1, $2, 'use')", ws, g)
		require.NoError(b, err)
	}
	_, err = q.Exec(ctx, "INSERT INTO template_grants (template_id, group_id, role) VALUES ($1, $2, 'use')", tpl, group)
	require.NoError(b, err)
	_, err = q.Exec(ctx, "INSERT INTO workspace_grants (workspace_id, group_id, role) VALUES ($1, $2, 'use')", ws, group)
	require.NoError(b, err)
	// Quotas on: the owner's group has an allowance, the version costs 2 a day, the owner runs 19 others.
	_, err = q.Exec(ctx, "UPDATE groups SET quota_allowance = 1000 WHERE id = $1", group)
	require.NoError(b, err)
	_, err = q.Exec(ctx, "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)", group, owner)
	require.NoError(b, err)
	_, err = q.Exec(ctx, `UPDATE template_versions SET resources = '[{"type":"docker_container","name":"dev","daily_cost":2}]' WHERE id = $1`, f.active)
	require.NoError(b, err)
	_, err = q.Exec(ctx, `WITH w AS (INSERT INTO workspaces (owner_id, template_id, name) SELECT $1, $2, 'other-' || n FROM generate_series(1, 19) n RETURNING id)
		INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status) SELECT id, 1, $3, 'start', 'succeeded' FROM w`, owner, tpl, f.active)
	require.NoError(b, err)
	workspaceRow := dbsqlc.Workspace{ID: uuid.MustParse(ws), OwnerID: owner, Name: f.name}
	versionRow := dbsqlc.TemplateVersion{ID: uuid.MustParse(f.active)}
	tplID, wsID := uuid.MustParse(tpl), uuid.MustParse(ws)
	// measure times, in a build request's transaction (open already, so not timed), its access
	// check and then the quota check of its start.
	measure := func(b *testing.B, actor authz.Actor, access func(ctx context.Context, q *dbsqlc.Queries) error) {
		actx := authz.WithActor(ctx, actor)
		took := make([]time.Duration, 0, b.N)
		var accessTook, quotaTook []time.Duration
		b.ResetTimer()
		for range b.N {
			require.NoError(b, bb.db.InTx(actx, func(tx db.Tx) error {
				t0 := time.Now()
				require.NoError(b, access(actx, tx.Queries))
				t1 := time.Now()
				require.NoError(b, workspace.CheckQuota(actx, tx, workspaceRow, versionRow))
				accessTook, quotaTook = append(accessTook, t1.Sub(t0)), append(quotaTook, time.Since(t1))
				took = append(took, time.Since(t0))
				return nil
			}))
		}
		b.StopTimer()
		p95 := func(d []time.Duration) float64 {
			slices.Sort(d)
			return float64(d[len(d)*95/100].Microseconds()) / 1000
		}
		b.ReportMetric(p95(took), "p95-ms")
		b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(p95(accessTook), "access-p95-ms")
		b.ReportMetric(p95(quotaTook), "quota-p95-ms")
	}
	groups := []uuid.UUID{uuid.MustParse(group)}
	// Starting a workspace shared through a group: its access list, then the quota.
	b.Run("start-shared-through-a-group", func(b *testing.B) {
		measure(b, authz.Actor{UserID: uuid.MustParse(userID), Username: "grantee", Groups: groups}, func(ctx context.Context, q *dbsqlc.Queries) error {
			w, err := acl.Workspace(ctx, q, wsID, owner)
			if err != nil {
				return err
			}
			return authz.AuthorizeWorkspace(ctx, authz.UseWorkspace, w)
		})
	})
	// Creating a workspace of a template granted to the owner's group: the template's access list,
	// then the quota.
	b.Run("create-own", func(b *testing.B) {
		measure(b, authz.Actor{UserID: owner, Username: "owner", Groups: groups}, func(ctx context.Context, q *dbsqlc.Queries) error {
			grants, err := acl.Template(ctx, q, tplID)
			if err != nil {
				return err
			}
			return authz.AuthorizeTemplate(ctx, authz.UseTemplate, grants)
		})
	})
}

// A member's running workspaces cost the daily_cost of their resources; a start that would go past
// the allowance of their groups is refused with a 403 before any build, naming both figures.
func TestQuotaRefusesAStartOverTheAllowance(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	pushTemplate(t, b, admin, "testdata/costly", "costly", t.TempDir())
	alice := newUser(t, b, admin, "alice")
	res, p := call(t, "POST", b.srv.URL+"/api/v2/groups", `{"name":"small","members":["alice"],"quota_allowance":-1}`, admin...)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "a negative allowance: %v", p)
	res, p = call(t, "POST", b.srv.URL+"/api/v2/groups", `{"name":"small","members":["alice"],"quota_allowance":3}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/groups/everyone", `{"quota_allowance":3}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)

	res, first := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"one","template":"costly"}`, alice...)
	require.Equal(t, http.StatusCreated, res.StatusCode, first)
	require.Equal(t, "succeeded", waitBuild(t, b, alice, first["latest_build"].(map[string]any)["id"].(string))["status"])
	_, q := call(t, "GET", b.srv.URL+"/api/v2/users/me/quota", "", alice...)
	require.Equal(t, map[string]any{"allowance": float64(6), "used": float64(4)}, q, "3 from small and 3 from everyone; one workspace at 4")

	var builds int
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM workspace_builds").Scan(&builds))
	res, p = call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"two","template":"costly"}`, alice...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, p)
	require.Contains(t, p["detail"], "would cost 4 credits a day")
	require.Contains(t, p["detail"], "already use 4 of an allowance of 6")
	var after int
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM workspace_builds").Scan(&after))
	require.Equal(t, builds, after, "no build, no job")
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/users/alice/workspaces/two", "", alice...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, "nothing half-made")

	// Stopping the first frees its credits; a restart of the same workspace counts it once.
	stop := build(t, b, alice, first["id"].(string), `{"transition":"stop"}`)
	waitBuild(t, b, alice, stop["id"].(string))
	_, q = call(t, "GET", b.srv.URL+"/api/v2/users/me/quota", "", alice...)
	require.Equal(t, float64(0), q["used"])
	res, second := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"two","template":"costly"}`, alice...)
	require.Equal(t, http.StatusCreated, res.StatusCode, second)
	waitBuild(t, b, alice, second["latest_build"].(map[string]any)["id"].(string))
	res, p = call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+first["id"].(string)+"/builds", `{"transition":"start"}`, alice...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, p)
	res, p = call(t, "GET", b.srv.URL+"/api/v2/users/bob/quota", "", alice...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p)
}

// Two creates race for the last ready prebuild: exactly one takes it (ownership, name and a new
// agent token move together); the other gets a workspace of its own, built as usual.
func TestTwoClaimsRaceForTheLastPrebuild(t *testing.T) {
	t.Parallel()
	var hash [32]byte
	hash[0] = 1
	s := newClaimScene(t, hash[:])
	b, alice, ws, agent := s.bundle, s.alice, s.ws, s.agent
	bob := newUser(t, b, s.admin, "bob")
	ctx, q := t.Context(), b.db.Pool

	type answer struct {
		status int
		body   map[string]any
	}
	answers := make(chan answer, 2)
	for _, who := range [][]string{alice, bob} {
		go func() {
			res, body := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"mine","template":"pre","preset":"team"}`, who...)
			answers <- answer{res.StatusCode, body}
		}()
	}
	claimed := 0
	for range 2 {
		a := <-answers
		require.Equal(t, http.StatusCreated, a.status, a.body)
		if a.body["id"] == ws {
			claimed++
			require.Equal(t, "succeeded", a.body["latest_build"].(map[string]any)["status"], "claimed, not rebuilt")
		} else {
			require.Equal(t, "pending", a.body["latest_build"].(map[string]any)["status"], "built as usual")
		}
	}
	require.Equal(t, 1, claimed, "exactly one winner")
	var owner, name string
	var tokenHash, previous []byte
	require.NoError(t, q.QueryRow(ctx, "SELECT owner_id, name FROM workspaces WHERE id = $1", ws).Scan(&owner, &name))
	require.NotEqual(t, authz.PrebuildsOwner.String(), owner)
	require.Equal(t, "mine", name)
	require.NoError(t, q.QueryRow(ctx, "SELECT token_hash, previous_token_hash FROM workspace_agents WHERE id = $1", agent).Scan(&tokenHash, &previous))
	require.NotEqual(t, hash[:], tokenHash, "the agent's token is re-issued")
	require.Equal(t, hash[:], previous, "the old one works until the agent takes the new (this agent is not connected)")
}

// A version whose preset asks for more prebuilds than the deployment allows is refused when it
// would become active, naming the preset.
func TestTooManyPrebuildsAreRefused(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(d *Deps) { d.MaxPrebuilds = 2 })
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}

data "coder_workspace_preset" "crowd" {
  name = "crowd"
  prebuilds {
    instances = 3
  }
}
`), 0o644))
	file := upload(t, b, admin, tarDir(t, dir))
	_, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	res, p := call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"crowded","version_id":"`+v["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, p)
	require.Contains(t, p["detail"], "Preset crowd asks for 3 prebuilt workspaces; this deployment allows at most 2")
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/templates/crowded", "", admin...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, "nothing made")
}

// A create with the preset claims a prebuild when the parameters it gives are the prebuild's (the
// CLI and the dashboard send every value, the defaults included); one that asks for another value
// gets a workspace of its own, and the prebuild stays in the pool.
func TestAClaimGivesTheParametersOfThePrebuild(t *testing.T) {
	t.Parallel()
	var hash [32]byte
	hash[0] = 2
	s := newClaimScene(t, hash[:])
	b, alice, ws := s.bundle, s.alice, s.ws
	ctx, q := t.Context(), b.db.Pool
	_, err := q.Exec(ctx, `UPDATE template_versions SET parameters = '[{"name":"region","type":"string","default":"eu","mutable":true}]'
		WHERE id = (SELECT template_version_id FROM workspace_builds WHERE workspace_id = $1)`, ws)
	require.NoError(t, err)
	_, err = q.Exec(ctx, `UPDATE workspace_builds SET parameters = '[{"name":"region","value":"eu"}]' WHERE workspace_id = $1`, ws)
	require.NoError(t, err)

	res, other := call(t, "POST", b.srv.URL+"/api/v2/workspaces",
		`{"name":"us","template":"pre","preset":"team","parameters":[{"name":"region","value":"us"}]}`, alice...)
	require.Equal(t, http.StatusCreated, res.StatusCode, other)
	require.NotEqual(t, ws, other["id"], "another region: built as usual")
	var prebuildOwner string
	require.NoError(t, q.QueryRow(ctx, "SELECT owner_id FROM workspaces WHERE id = $1", ws).Scan(&prebuildOwner))
	require.Equal(t, authz.PrebuildsOwner.String(), prebuildOwner, "the prebuild stays in the pool")

	res, mine := call(t, "POST", b.srv.URL+"/api/v2/workspaces",
		`{"name":"eu","template":"pre","preset":"team","parameters":[{"name":"region","value":"eu"}]}`, alice...)
	require.Equal(t, http.StatusCreated, res.StatusCode, mine)
	require.Equal(t, ws, mine["id"], "the prebuild's own values: claimed")
	require.Equal(t, "succeeded", mine["latest_build"].(map[string]any)["status"], "claimed, not rebuilt")
}
