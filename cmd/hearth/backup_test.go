package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// A backup of the database (pg_dump), restored into a fresh database (pg_restore), serves the same
// deployment: the same users and sessions, templates and workspaces, and with the same secret key the
// sealed Terraform state opens, so the restored workspace stops and starts.
func TestABackupRestoredIntoAFreshDatabaseServesTheSameWorkspaces(t *testing.T) {
	t.Parallel()
	tools, err := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump")
	require.NoError(t, err)
	require.NotEmpty(t, tools, "pg_dump is installed with the PostgreSQL server binaries")
	bin := filepath.Dir(tools[len(tools)-1])
	dir := t.TempDir()
	from := dbtest.NewURL(t)
	data := filepath.Join(dir, "data") // the secret key is kept here; a restore needs the same key
	srv := startServer(t, "--postgres-url", from, "--data-dir", data, "--provisioners", "1", "--provider-mirror", tftest.Mirror(t))
	c, token := signIn(t, srv.url, filepath.Join(dir, "cli"))
	out, errOut, code := c.run("", "templates", "push", "../../examples/templates/local", "--variable",
		"workspaces_dir="+filepath.Join(dir, "workspaces"), "--yes")
	require.Equal(t, 0, code, out+errOut)
	out, errOut, code = c.run("", "create", "dev", "--template", "local", "--yes")
	require.Equal(t, 0, code, out+errOut)
	before := callAPI(t, "GET", srv.url+"/api/v2/users/me/workspaces/dev", token, "", nil)
	srv.interrupt(t)

	dump := filepath.Join(dir, "hearth.dump")
	if out, err := exec.Command(filepath.Join(bin, "pg_dump"), "--format=custom", "--file="+dump, from).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v: %s", err, out)
	}
	to := dbtest.NewEmptyURL(t)
	if out, err := exec.Command(filepath.Join(bin, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+to, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v: %s", err, out)
	}

	restored := startServer(t, "--postgres-url", to, "--data-dir", data, "--provisioners", "1", "--provider-mirror", tftest.Mirror(t))
	after := callAPI(t, "GET", restored.url+"/api/v2/users/me/workspaces/dev", token, "", nil)
	require.Equal(t, before["id"], after["id"], "the same workspace, by the same session")
	require.Equal(t, "running", after["status"])
	templates := callAPI(t, "GET", restored.url+"/api/v2/templates", token, "", nil)
	require.Contains(t, templates["templates"].([]any)[0].(map[string]any)["name"], "local")

	// The CLI, pointed at the restored deployment, stops and starts the workspace from its state.
	c.dir = filepath.Join(dir, "cli-restored")
	out, errOut, code = c.run("", "login", restored.url, "--token", token)
	require.Equal(t, 0, code, out+errOut)
	out, errOut, code = c.run("", "stop", "dev")
	require.Equal(t, 0, code, out+errOut)
	out, errOut, code = c.run("", "start", "dev")
	require.Equal(t, 0, code, out+errOut)
}
