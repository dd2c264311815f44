package api

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// A version lists its coder_workspace_presets; creating a workspace with one uses its values, and
// an unknown preset, or a value that contradicts the preset, is refused with nothing made.
func TestPresetsFillParameters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	file := upload(t, b, admin, tarDir(t, "testdata/presets"))
	res, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, v)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	require.Equal(t, []any{
		map[string]any{"name": "Big", "default": false, "parameters": map[string]any{"size": "8"}},
		map[string]any{"name": "Small in America", "description": "Two cores near New York", "default": true,
			"parameters": map[string]any{"size": "2", "region": "us"}, "prebuilds": map[string]any{"instances": 1.0}},
	}, v["presets"])
	res, p := call(t, "POST", b.srv.URL+"/api/v2/templates", `{"name":"presets","version_id":"`+v["id"].(string)+`"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)

	for _, tc := range []struct{ body, field, detail string }{
		{`{"name":"x","template":"presets","preset":"Huge"}`, "body.preset", `has no preset "Huge". Its presets: Big, Small in America.`},
		{`{"name":"x","template":"presets","preset":"Big","parameters":[{"name":"size","value":"4"}]}`, "body.parameters.size", `Preset Big sets parameter size to "8"`},
	} {
		res, p := call(t, "POST", b.srv.URL+"/api/v2/workspaces", tc.body, admin...)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, p)
		require.Equal(t, tc.field, firstLocation(p))
		require.Contains(t, p["detail"], tc.detail)
	}
	_, list := call(t, "GET", b.srv.URL+"/api/v2/workspaces", "", admin...)
	require.EqualValues(t, 0, list["count"], "nothing made")

	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"x","template":"presets","preset":"Small in America"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	params := func(ws map[string]any) any {
		_, b := call(t, "GET", b.srv.URL+"/api/v2/workspacebuilds/"+ws["latest_build"].(map[string]any)["id"].(string), "", admin...)
		return b["parameters"]
	}
	require.ElementsMatch(t, []any{map[string]any{"name": "size", "value": "2"}, map[string]any{"name": "region", "value": "us"}}, params(ws))
	res, ws = call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"y","template":"presets","preset":"Big","parameters":[{"name":"region","value":"us"}]}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	require.ElementsMatch(t, []any{map[string]any{"name": "size", "value": "8"}, map[string]any{"name": "region", "value": "us"}}, params(ws),
		"what the preset leaves out comes from the request")
	for _, name := range []string{"x", "y"} {
		_, w := call(t, "GET", b.srv.URL+"/api/v2/users/me/workspaces/"+name, "", admin...)
		require.Equal(t, "succeeded", waitBuild(t, b, admin, w["latest_build"].(map[string]any)["id"].(string))["status"])
	}
}

// A preset that sets a parameter the template does not declare fails the import, saying which.
func TestAPresetOfAnUnknownParameterFailsTheImport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
data "coder_workspace_preset" "p" {
  name       = "p"
  parameters = { colour = "red" }
}
`), 0o600))
	file := upload(t, b, admin, tarDir(t, dir))
	_, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "failed", v["status"], v)
	require.Contains(t, v["error"], `coder_workspace_preset "p" sets parameter "colour", which the template does not declare`)
}
