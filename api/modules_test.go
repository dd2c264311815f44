package api

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// helloModule is a module of our own whose version shows in the parameter it declares.
func helloModule(version string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
data "coder_parameter" "greeting" {
  name    = "greeting"
  default = "hello from %s"
}
output "version" {
  value = %q
}
`, version, version)
}

func pushModule(t *testing.T, b bundle, admin []string, source, version string, archive []byte) (*http.Response, map[string]any) {
	t.Helper()
	file := upload(t, b, admin, archive)
	return call(t, "POST", b.srv.URL+"/api/v2/modules", `{"source":"`+source+`","version":"`+version+`","file_id":"`+file+`"}`, admin...)
}

// A template's registry module (registry.coder.com/..., with a version constraint) resolves from
// Hearth's module registry, unchanged and without the internet: the newest version the constraint
// allows, its parameters part of the template's.
func TestRegistryModulesResolveFromHearth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	source := "registry.coder.com/hearth/hello/coder"
	for _, v := range []string{"1.0.0", "1.2.0", "2.0.0"} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(helloModule(v)), 0o600))
		res, m := pushModule(t, b, admin, source, v, tarDir(t, dir))
		require.Equal(t, http.StatusCreated, res.StatusCode, m)
		require.Equal(t, source, m["source"])
	}

	// Bad pushes: each refused, naming what is wrong.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(helloModule("again")), 0o600))
	res, p := pushModule(t, b, admin, source, "1.2.0", tarDir(t, dir))
	require.Equal(t, http.StatusConflict, res.StatusCode, p)
	res, p = pushModule(t, b, admin, "hello", "1.0.0", tarDir(t, dir))
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, p)
	require.Contains(t, p["detail"], "HOST/NAMESPACE/NAME/SYSTEM")
	res, p = pushModule(t, b, admin, source, "one", tarDir(t, dir))
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, p)
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "../escape.tf", Mode: 0o644, Size: 1, Typeflag: tar.TypeReg}))
	_, _ = tw.Write([]byte("#"))
	require.NoError(t, tw.Close())
	req, err := http.NewRequestWithContext(t.Context(), "POST", b.srv.URL+"/api/v2/files", bytes.NewReader(evil.Bytes()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-tar")
	req.Header.Set(admin[0], admin[1])
	up, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(up.Body)
	_ = up.Body.Close()
	require.Equal(t, http.StatusBadRequest, up.StatusCode, "an archive with ../ is refused at upload, before it could be a module")
	require.Contains(t, string(body), "points outside")
	_, list := call(t, "GET", b.srv.URL+"/api/v2/modules", "", admin...)
	require.Len(t, list["modules"], 3, "nothing stored by the refused pushes")

	// The registry answers Terraform with a job's token only.
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/module-registry/registry.coder.com/hearth/hello/coder/versions", "", admin...)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a user's token is not a job's")

	tmpl := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(tmpl, "main.tf"), []byte(`terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
module "hello" {
  source  = "`+source+`"
  version = "~> 1.0"
}
`), 0o600))
	file := upload(t, b, admin, tarDir(t, tmpl))
	_, v := call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "succeeded", v["status"], v)
	params := v["parameters"].([]any)
	require.Len(t, params, 1, "the module's parameter is the template's")
	require.Equal(t, "hello from 1.2.0", params[0].(map[string]any)["default"], "~> 1.0 takes 1.2.0, not 2.0.0")

	// A constraint no pushed version meets fails the import with Terraform's word on it.
	require.NoError(t, os.WriteFile(filepath.Join(tmpl, "main.tf"), []byte(`module "hello" {
  source  = "`+source+`"
  version = "~> 5.0"
}
`), 0o600))
	file = upload(t, b, admin, tarDir(t, tmpl))
	_, v = call(t, "POST", b.srv.URL+"/api/v2/template-versions", `{"file_id":"`+file+`"}`, admin...)
	v = waitVersion(t, b, admin, v["id"].(string))
	require.Equal(t, "failed", v["status"], v)
	require.Contains(t, fmt.Sprint(v["diagnostics"]), "hearth/hello/coder", v)
}
