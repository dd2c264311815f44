package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/tftest"
	worker "github.com/hearthdev/hearth/provisioner-worker"
)

// startTaggedWorker runs a PSK worker with tags until the test ends.
func startTaggedWorker(t *testing.T, b bundle, name string, tags map[string]string) {
	t.Helper()
	tf, err := worker.FindTerraform(context.Background(), "")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(ctx, worker.Config{URL: b.srv.URL, Key: testPSK, Name: name, Tags: tags, Logger: testLogger(),
			Runner: worker.Runner{Terraform: tf, Mirrors: []string{tftest.Mirror(t)}, WorkDir: t.TempDir()}})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// A template's coder_workspace_tags route its import and its builds: literal tags and those taken
// from a parameter's value. A build goes only to a worker with all of them, and waits, shown as
// having no matching worker, while none is connected.
func TestWorkspaceTagsRouteBuilds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startTaggedWorker(t, b, "eu-worker", map[string]string{"os": "linux", "region": "eu"})

	file := upload(t, b, admin, tarDir(t, "testdata/tagged"))
	res, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","name":"v1"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	require.Equal(t, []any{
		map[string]any{"key": "os", "value": "linux"},
		map[string]any{"key": "region", "parameter": "region"},
	}, v["workspace_tags"])
	require.Len(t, v["warnings"], 1, "api_key_scope is named: %v", v["warnings"])
	warning := v["warnings"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"file": "main.tf", "line": 32.0, "construct": `resource "coder_agent"`, "attribute": "api_key_scope",
		"message": "not supported by Hearth: Agent tokens are not API keys; their scope is the workspace."}, warning)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], "the import needs os=linux and runs on the worker that has it: %v", v)
	res, p := call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"tagged","version_id":"`+v["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)

	// Europe builds on the eu worker.
	res, eu := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"in-eu","template":"tagged"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, eu)
	done := waitBuild(t, b, admin, eu["latest_build"].(map[string]any)["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)

	// America waits for a worker in the us region, and says so.
	res, us := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"in-us","template":"tagged","parameters":[{"name":"region","value":"us"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, us)
	usBuild := us["latest_build"].(map[string]any)
	var job map[string]any
	waitFor(t, func() bool {
		_, jobs := call(t, "GET", b.srv.URL+"/api/v2/provisioners/jobs", "", admin...)
		for _, j := range jobs["jobs"].([]any) {
			if j.(map[string]any)["id"] == usBuild["job_id"] {
				job = j.(map[string]any)
			}
		}
		return job != nil
	}, "the us build's job in the queue")
	require.Equal(t, map[string]any{"os": "linux", "region": "us"}, job["tags"])
	require.Equal(t, true, job["no_matching_worker"])
	time.Sleep(2 * time.Second) // the eu worker polls meanwhile, and must not take it
	_, still := call(t, "GET", b.srv.URL+"/api/v2/workspacebuilds/"+usBuild["id"].(string), "", admin...)
	require.Equal(t, "pending", still["status"], still)

	startTaggedWorker(t, b, "us-worker", map[string]string{"os": "linux", "region": "us", "gpu": "none"})
	done = waitBuild(t, b, admin, usBuild["id"].(string))
	require.Equal(t, "succeeded", done["status"], done)
}

// With strict, a template using what Hearth does not honour is refused, each use named, and nothing
// is stored.
func TestStrictRefusesUnhonouredConstructs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	file := upload(t, b, admin, tarDir(t, "testdata/tagged"))
	res, p := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`","strict":true}`, admin...)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, p)
	require.Contains(t, p["detail"], "strict")
	require.Equal(t, `main.tf:32: resource "coder_agent" api_key_scope: not supported by Hearth: Agent tokens are not API keys; their scope is the workspace.`,
		p["errors"].([]any)[0].(map[string]any)["message"])
	_, jobs := call(t, "GET", b.srv.URL+"/api/v2/provisioners/jobs", "", admin...)
	require.Empty(t, jobs["jobs"], "nothing queued")
}
