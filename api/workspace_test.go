package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// lifecycleTemplate makes the template in testdata/lifecycle, with its workspaces under root, and
// returns the template's name.
func lifecycleTemplate(t testing.TB, b bundle, admin []string, root, name string) string {
	t.Helper()
	file := upload(t, b, admin, tarDir(t, "testdata/lifecycle"))
	vars := `[{"name":"root","value":"` + root + `"},{"name":"greeting","value":"secret-greeting"}]`
	res, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","variables":`+vars+`}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	res, tpl := call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"`+name+`","version_id":"`+v["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, tpl)
	return name
}

func upload(t testing.TB, b bundle, admin []string, archive []byte) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "POST", b.srv.URL+"/api/v2/files", strings.NewReader(string(archive)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set(admin[0], admin[1])
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var f struct{ ID string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&f))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	return f.ID
}

// waitBuild polls a build until it ends, for 30 s at most.
func waitBuild(t testing.TB, b bundle, auth []string, id string) map[string]any {
	t.Helper()
	return waitBuildFor(t, b, auth, id, 30*time.Second)
}

// waitBuildFor polls a build until it ends, for at most wait.
func waitBuildFor(t testing.TB, b bundle, auth []string, id string, wait time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		_, v := call(t, "GET", b.srv.URL+"/api/v2/workspacebuilds/"+id, "", auth...)
		if s := v["status"]; s == "succeeded" || s == "failed" || s == "canceled" {
			return v
		}
		require.True(t, time.Now().Before(deadline), "build did not end: %v", v)
		time.Sleep(50 * time.Millisecond)
	}
}

func build(t *testing.T, b bundle, auth []string, ws, body string) map[string]any {
	t.Helper()
	res, v := call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+ws+"/builds", body, auth...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	done := waitBuild(t, b, auth, v["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)
	return done
}

func TestWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	root := t.TempDir()
	lifecycleTemplate(t, b, admin, root, "files")
	member := newUser(t, b, admin, "dev")

	// Bad input first: each a clear error, nothing made.
	for _, tc := range []struct {
		body, field string
		status      int
	}{
		{`{"name":"ws","template":"nope","parameters":[{"name":"region","value":"eu"}]}`, "body.template", 404},
		{`{"name":"ws","template":"files"}`, "body.parameters.region", 400},
		{`{"name":"ws","template":"files","parameters":[{"name":"region","value":"mars"}]}`, "body.parameters.region", 400},
		{`{"name":"ws","template":"files","parameters":[{"name":"region","value":"eu"},{"name":"size","value":"9"}]}`, "body.parameters.size", 400},
		{`{"name":"ws","template":"files","parameters":[{"name":"region","value":"eu"},{"name":"colour","value":"red"}]}`, "body.parameters.colour", 400},
		{`{"name":"bad name!","template":"files"}`, "body.name", 422},
	} {
		res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaces", tc.body, member...)
		require.Equal(t, tc.status, res.StatusCode, "%s: %v", tc.body, p)
		require.Equal(t, tc.field, firstLocation(p), "%s: %v", tc.body, p)
	}
	_, list := call(t, "GET", b.srv.URL+"/api/v2/workspaces", "", member...)
	require.EqualValues(t, 0, list["count"], "a refused create made nothing")

	// Create: the first build starts it.
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"ws","template":"files","parameters":[{"name":"region","value":"eu"}]}`, member...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	id := ws["id"].(string)
	first := ws["latest_build"].(map[string]any)
	require.Equal(t, "pending", ws["status"])

	res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"WS","template":"files","parameters":[{"name":"region","value":"eu"}]}`, member...)
	require.Equal(t, http.StatusConflict, res.StatusCode, "names are unique per owner, case-insensitively: %v", p)
	res, p = call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+id+"/builds", `{"transition":"stop"}`, member...)
	require.Equal(t, http.StatusConflict, res.StatusCode, "one build at a time: %v", p)

	done := waitBuild(t, b, member, first["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)
	_, ws = call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+id, "", member...)
	require.Equal(t, "running", ws["status"])
	dir := filepath.Join(root, "dev-"+id)
	run, err := os.ReadFile(filepath.Join(dir, "run"))
	require.NoError(t, err)
	require.Equal(t, "size=2 region=eu name=ws\n", string(run), "parameters and the workspace reach Terraform")
	home, err := os.ReadFile(filepath.Join(dir, "home"))
	require.NoError(t, err)
	require.Equal(t, "secret-greeting\n", string(home), "template variables reach Terraform")

	// The agent: declared with its apps, scripts and metadata; its token is the one in the state,
	// stored only as a hash.
	resources := ws["latest_build"].(map[string]any)["resources"].([]any)
	var agent map[string]any
	for _, r := range resources {
		for _, a := range r.(map[string]any)["agents"].([]any) {
			agent = a.(map[string]any)
			require.Equal(t, "terraform_data", r.(map[string]any)["type"])
		}
	}
	require.NotNil(t, agent, "the agent is on the resource that uses its token: %v", resources)
	require.Equal(t, "web", agent["apps"].([]any)[0].(map[string]any)["slug"])
	require.Equal(t, "Hello", agent["scripts"].([]any)[0].(map[string]any)["display_name"])
	require.Equal(t, "load", agent["metadata"].([]any)[0].(map[string]any)["key"])
	token, err := os.ReadFile(filepath.Join(dir, "token"))
	require.NoError(t, err)
	var n int
	require.NoError(t, b.db.Pool.QueryRow(context.Background(),
		"SELECT count(*) FROM workspace_agents WHERE token_hash = sha256($1::bytea)", strings.TrimSpace(string(token))).Scan(&n))
	require.Equal(t, 1, n)
	var state []byte
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), "SELECT state FROM workspace_builds WHERE id = $1", first["id"]).Scan(&state))
	require.NotEmpty(t, state)
	require.NotContains(t, string(state), strings.TrimSpace(string(token)), "the state is sealed")
	require.NotContains(t, string(state), "terraform_data")

	// Stop: the ephemeral resource goes, the home stays. Start brings it back with the same values.
	build(t, b, member, id, `{"transition":"stop"}`)
	require.NoFileExists(t, filepath.Join(dir, "run"))
	require.FileExists(t, filepath.Join(dir, "home"))
	_, ws = call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+id, "", member...)
	require.Equal(t, "stopped", ws["status"])
	require.Empty(t, ws["latest_build"].(map[string]any)["resources"].([]any)[0].(map[string]any)["agents"], "a stopped workspace has no agent")

	res, p = call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+id+"/builds", `{"transition":"start","parameters":[{"name":"size","value":"1"}]}`, member...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "monotonic: %v", p)
	res, p = call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+id+"/builds", `{"transition":"start","parameters":[{"name":"region","value":"us"}]}`, member...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "immutable: %v", p)
	require.Equal(t, "immutable", p["errors"].([]any)[0].(map[string]any)["message"])
	build(t, b, member, id, `{"transition":"start","parameters":[{"name":"size","value":"4"}]}`)
	run, err = os.ReadFile(filepath.Join(dir, "run"))
	require.NoError(t, err)
	require.Equal(t, "size=4 region=eu name=ws\n", string(run))

	// Rename, then update to a new version: the new name and version reach Terraform.
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/workspaces/"+id, `{"name":"renamed"}`, member...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	file := upload(t, b, admin, tarDir(t, "testdata/lifecycle"))
	res, v2 := call(t, "POST", b.srv.URL+"/api/v2/template-versions",
		`{"file_id":"`+file+`","template_id":"files","name":"second","variables":[{"name":"root","value":"`+root+`"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v2)
	v2 = waitVersion(t, b, admin, v2["id"].(string))
	require.Equal(t, "succeeded", v2["status"], v2)
	res, p = call(t, "PUT", b.srv.URL+"/api/v2/templates/files/active-version", `{"version_id":"`+v2["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	_, ws = call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+id, "", member...)
	require.Equal(t, true, ws["outdated"])
	build(t, b, member, id, `{"transition":"stop"}`)
	build(t, b, member, id, `{"transition":"start","template_version_id":"`+v2["id"].(string)+`"}`)
	_, ws = call(t, "GET", b.srv.URL+"/api/v2/users/dev/workspaces/renamed", "", member...)
	require.Equal(t, false, ws["outdated"])
	require.Equal(t, "running", ws["status"])
	run, err = os.ReadFile(filepath.Join(dir, "run"))
	require.NoError(t, err)
	require.Equal(t, "size=4 region=eu name=renamed\n", string(run))

	// The template cannot be deleted while the workspace uses it.
	res, _ = call(t, "DELETE", b.srv.URL+"/api/v2/templates/files", "", admin...)
	require.Equal(t, http.StatusConflict, res.StatusCode)

	// Delete: everything Terraform made is gone, and the workspace with it.
	res, del := call(t, "DELETE", b.srv.URL+"/api/v2/workspaces/"+id, "", member...)
	require.Equal(t, http.StatusAccepted, res.StatusCode, del)
	done = waitBuild(t, b, member, del["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)
	require.NoDirExists(t, dir)
	_, ws = call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+id, "", member...)
	require.Equal(t, "deleted", ws["status"])
	_, list = call(t, "GET", b.srv.URL+"/api/v2/workspaces?q=owner:me", "", member...)
	require.EqualValues(t, 0, list["count"])
	res, _ = call(t, "DELETE", b.srv.URL+"/api/v2/templates/files", "", admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)

	// Builds are listed newest first, with their logs kept.
	_, builds := call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+id+"/builds", "", member...)
	require.Len(t, builds["builds"], 6)
	_, logs := call(t, "GET", b.srv.URL+"/api/v2/workspacebuilds/"+first["id"].(string)+"/logs", "", member...)
	require.NotEmpty(t, logs["logs"])
	require.NotContains(t, fmt.Sprint(logs), "secret-greeting", "sensitive variables are not printed")

	// Each build says how long its stages took, in the order they ran, end to end without gaps.
	for _, x := range builds["builds"].([]any) {
		stages := x.(map[string]any)["stages"].([]any)
		var names []string
		for i, st := range stages {
			s := st.(map[string]any)
			if n := s["stage"].(string); n == "init" || n == "plan" || n == "apply" {
				names = append(names, n)
			}
			require.GreaterOrEqual(t, s["seconds"].(float64), 0.0, s)
			if i > 0 {
				require.Equal(t, stages[i-1].(map[string]any)["ended_at"], s["started_at"], "a stage ends when the next begins")
			}
		}
		require.Equal(t, []string{"init", "plan", "apply"}, names, "build #%v: %v", x.(map[string]any)["number"], stages)
	}
	_, one := call(t, "GET", b.srv.URL+"/api/v2/workspacebuilds/"+first["id"].(string), "", member...)
	require.Equal(t, builds["builds"].([]any)[5].(map[string]any)["stages"], one["stages"], "a build read alone has the same stages")
}

func TestWorkspacesOfOthersAreNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	lifecycleTemplate(t, b, admin, t.TempDir(), "files")
	alice := newUser(t, b, admin, "alice")
	bob := newUser(t, b, admin, "bob")
	auditor := newUser(t, b, admin, "audrey", "auditor")
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"mine","template":"files","parameters":[{"name":"region","value":"eu"}]}`, alice...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	id := ws["id"].(string)
	for _, path := range []string{"/api/v2/workspaces/" + id, "/api/v2/users/alice/workspaces/mine", "/api/v2/workspaces/" + id + "/builds"} {
		res, _ = call(t, "GET", b.srv.URL+path, "", bob...)
		require.Equal(t, http.StatusNotFound, res.StatusCode, path)
		res, _ = call(t, "GET", b.srv.URL+path, "", auditor...)
		require.Equal(t, http.StatusOK, res.StatusCode, path)
	}
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+id+"/builds", `{"transition":"stop"}`, bob...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/workspaces/"+id+"/builds", `{"transition":"stop"}`, auditor...)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "auditors see but do not change")
	_, list := call(t, "GET", b.srv.URL+"/api/v2/workspaces", "", bob...)
	require.EqualValues(t, 0, list["count"])
	_, list = call(t, "GET", b.srv.URL+"/api/v2/workspaces?q=owner:alice+template:files+mi", "", auditor...)
	require.EqualValues(t, 1, list["count"], list)
	_, list = call(t, "GET", b.srv.URL+"/api/v2/workspaces?q=owner:alice+status:stopped", "", auditor...)
	require.EqualValues(t, 0, list["count"], list)
	res, p := call(t, "GET", b.srv.URL+"/api/v2/workspaces?q=status:asleep", "", auditor...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, p)

	// A user with workspaces cannot be deleted: their infrastructure would be left behind.
	waitBuild(t, b, alice, ws["latest_build"].(map[string]any)["id"].(string))
	_, list = call(t, "GET", b.srv.URL+"/api/v2/workspaces?q=status:running", "", alice...)
	require.EqualValues(t, 1, list["count"], list)
	res, p = call(t, "DELETE", b.srv.URL+"/api/v2/users/alice", "", admin...)
	require.Equal(t, http.StatusConflict, res.StatusCode, p)
}

func TestBuildLogsFollow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	lifecycleTemplateNoWorkerWait(t, b, admin)
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"ws","template":"files","parameters":[{"name":"region","value":"eu"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	buildID := ws["latest_build"].(map[string]any)["id"].(string)
	url := b.srv.URL + "/api/v2/workspacebuilds/" + buildID + "/logs?follow=true"

	// Both followers connect before any worker runs the build, then see it through to the end.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(admin[0], admin[1])
	sse, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer sse.Body.Close()
	require.Equal(t, "text/event-stream", sse.Header.Get("Content-Type"))
	conn, _, err := websocket.Dial(ctx, strings.Replace(url, "http", "ws", 1), &websocket.DialOptions{HTTPHeader: http.Header{admin[0]: {admin[1]}}})
	require.NoError(t, err)
	defer func() { _ = conn.CloseNow() }()

	startWorker(t, b, "late")
	var wsLines int
	for {
		_, msg, err := conn.Read(ctx)
		if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
			break
		}
		require.NoError(t, err)
		var line map[string]any
		require.NoError(t, json.Unmarshal(msg, &line))
		wsLines++
	}
	var sseLines int
	var end string
	sc := bufio.NewScanner(sse.Body)
	event := ""
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "event: "):
			event = strings.TrimPrefix(l, "event: ")
		case strings.HasPrefix(l, "data: ") && event == "log":
			sseLines++
		case strings.HasPrefix(l, "data: ") && event == "end":
			end = strings.TrimPrefix(l, "data: ")
		}
	}
	require.JSONEq(t, `{"status":"succeeded"}`, end)
	_, all := call(t, "GET", b.srv.URL+"/api/v2/workspacebuilds/"+buildID+"/logs", "", admin...)
	require.Positive(t, wsLines)
	require.Equal(t, len(all["logs"].([]any)), wsLines, "the websocket got every line")
	require.Equal(t, wsLines, sseLines, "and so did the event stream")
}

// lifecycleTemplateNoWorkerWait imports the lifecycle template on a worker that stops afterwards.
func lifecycleTemplateNoWorkerWait(t *testing.T, b bundle, admin []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = runWorker(ctx, t, b, "importer")
	}()
	lifecycleTemplate(t, b, admin, t.TempDir(), "files")
	cancel()
	<-done
}

// A template written as Coder users write them imports and builds unchanged: every parameter type,
// the agent with its env, metadata, legacy scripts and display apps, coder_env, coder_script,
// coder_app with a healthcheck, and coder_metadata on the resource.
func TestCoderTemplateRunsUnchanged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	file := upload(t, b, admin, tarDir(t, "testdata/coder-compat"))
	res, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	types := map[string]string{}
	for _, p := range v["parameters"].([]any) {
		types[p.(map[string]any)["name"].(string)] = p.(map[string]any)["type"].(string)
	}
	require.Equal(t, map[string]string{"cpu": "number", "dotfiles_uri": "string", "gpu": "bool", "ides": "list(string)", "reset": "bool"}, types)
	res, tpl := call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"coder","version_id":"`+v["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, tpl)

	res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"c","template":"coder","parameters":[{"name":"dotfiles_uri","value":"git@x"}]}`, admin...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Contains(t, p["detail"], "Use an https:// URL.", "the template's own validation message")
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces",
		`{"name":"c","template":"coder","parameters":[{"name":"ides","value":"[\"vscode\",\"jetbrains\"]"},{"name":"gpu","value":"true"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	done := waitBuild(t, b, admin, ws["latest_build"].(map[string]any)["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)

	resources := done["resources"].([]any)
	require.Len(t, resources, 1, "%v", resources)
	machine := resources[0].(map[string]any)
	require.Equal(t, "terraform_data", machine["type"])
	require.EqualValues(t, 10, machine["daily_cost"], "%v", machine)
	require.Equal(t, []any{map[string]any{"key": "cpu", "value": "2"}, map[string]any{"key": "secret", "value": "", "sensitive": true}}, machine["metadata"])
	agent := machine["agents"].([]any)[0].(map[string]any)
	require.Equal(t, "dev", agent["name"])
	require.EqualValues(t, 300, agent["connection_timeout_seconds"])
	require.Equal(t, "https://example.com/help", agent["troubleshooting_url"])
	scripts := map[string]map[string]any{}
	for _, s := range agent["scripts"].([]any) {
		scripts[s.(map[string]any)["display_name"].(string)] = s.(map[string]any)
	}
	require.Equal(t, true, scripts["Startup Script"]["start_blocks_login"])
	require.Equal(t, true, scripts["Shutdown Script"]["run_on_stop"])
	require.Equal(t, "echo ", scripts["Dotfiles"]["script"])
	require.Equal(t, "0 0 22 * * *", scripts["Backup"]["cron"])
	require.Len(t, agent["metadata"], 2)
	apps := map[string]map[string]any{}
	for _, a := range agent["apps"].([]any) {
		apps[a.(map[string]any)["slug"].(string)] = a.(map[string]any)
	}
	require.EqualValues(t, 6, apps["code-server"]["healthcheck"].(map[string]any)["threshold"])
	require.Equal(t, true, apps["docs"]["external"])
	require.Equal(t, "Help", apps["docs"]["group"])
	require.Equal(t, "slim-window", apps["docs"]["open_in"])
	require.Equal(t, "The team's documentation", apps["docs"]["tooltip"])
	require.EqualValues(t, 2, apps["docs"]["order"])
	require.Equal(t, map[string]any{"vscode": true, "vscode_insiders": false, "web_terminal": false, "ssh_helper": true, "port_forwarding_helper": false},
		agent["display_apps"])
	require.EqualValues(t, 3, agent["order"])
	req, err := http.NewRequestWithContext(t.Context(), "GET", b.srv.URL+"/@ada/c.dev/apps/docs/", nil)
	require.NoError(t, err)
	req.Header.Set(admin[0], admin[1])
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "an external app is never proxied")
	require.Contains(t, string(body), "docs is an external app: open https://example.com/docs itself")

	var env []byte
	require.NoError(t, b.db.Pool.QueryRow(context.Background(), "SELECT env FROM workspace_agents WHERE name = 'dev'").Scan(&env))
	require.JSONEq(t, `{"EDITOR":"vim","GIT_AUTHOR_EMAIL":"ada@example.com","GIT_AUTHOR_NAME":"ada"}`, string(env))
}

// When apply fails midway, the state it left is kept, so the next build (here a delete) knows what
// exists and removes it.
func TestAFailedApplyKeepsItsState(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	root := t.TempDir()
	file := upload(t, b, admin, tarDir(t, "testdata/half-fails"))
	res, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","variables":[{"name":"root","value":"`+root+`"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"half","version_id":"`+v["id"].(string)+`"}`, admin...)
	_, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"w","template":"half"}`, admin...)
	done := waitBuild(t, b, admin, ws["latest_build"].(map[string]any)["id"].(string))
	require.Equal(t, "failed", done["status"])
	require.Contains(t, done["error"], "local-exec provisioner error", "Terraform's own words")
	require.FileExists(t, filepath.Join(root, "made"))
	_, ws = call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+ws["id"].(string), "", admin...)
	require.Equal(t, "failed", ws["status"])

	res, del := call(t, "DELETE", b.srv.URL+"/api/v2/workspaces/"+ws["id"].(string), "", admin...)
	require.Equal(t, http.StatusAccepted, res.StatusCode, del)
	done = waitBuild(t, b, admin, del["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)
	require.NoFileExists(t, filepath.Join(root, "made"), "the delete destroyed what the failed build made")
}

// A build nobody has picked up yet is canceled at once; the workspace can then be built again.
func TestCancelingAPendingBuild(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	lifecycleTemplateNoWorkerWait(t, b, admin)
	_, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"ws","template":"files","parameters":[{"name":"region","value":"eu"}]}`, admin...)
	first := ws["latest_build"].(map[string]any)["id"].(string)
	res, c := call(t, "POST", b.srv.URL+"/api/v2/workspacebuilds/"+first+"/cancel", "", admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, c)
	require.Equal(t, "canceled", c["status"])
	_, ws = call(t, "GET", b.srv.URL+"/api/v2/workspaces/"+ws["id"].(string), "", admin...)
	require.Equal(t, "canceled", ws["status"])
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/workspacebuilds/"+first+"/cancel", "", admin...)
	require.Equal(t, http.StatusConflict, res.StatusCode, "only once")
	startWorker(t, b, "w1")
	build(t, b, admin, ws["id"].(string), `{"transition":"start"}`)
}
