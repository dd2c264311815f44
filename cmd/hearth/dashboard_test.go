package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/tftest"
)

// The dashboard in real Chromium against the real binary (embedded PostgreSQL, a built-in worker):
// web/e2e/flow.mjs drives set-up, sign-in, the create form, the live build, the web terminal, stop
// and delete, a prebuilt workspace claimed through the form, and saves a screenshot of each page in
// web/test-results/.
//
// It needs the dashboard built into the binary (web/dist/app) and Chromium at /usr/bin/chromium;
// go tool task test provides both and sets HEARTH_E2E=1, which turns a missing one into a failure.
func TestDashboard(t *testing.T) {
	t.Parallel()
	required := os.Getenv("HEARTH_E2E") == "1"
	for _, need := range []string{"../../web/dist/app/index.html", "/usr/bin/chromium", "../../web/node_modules/playwright-core"} {
		if _, err := os.Stat(need); err != nil {
			if required {
				t.Fatalf("%s is missing: go tool task test builds the dashboard and installs Chromium", need)
			}
			t.Skipf("%s is missing (go tool task test provides it)", need)
		}
	}
	dir := t.TempDir()
	// The embedded PostgreSQL runs as another user when the tests run as root: let it through.
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	require.NoError(t, os.Chmod(dir, 0o711))
	srv := startServer(t, "--data-dir", filepath.Join(dir, "server"), "--provisioners", "1", "--provider-mirror", tftest.Mirror(t),
		"--prebuilds-reconcile-interval", "1s")
	tarball := filepath.Join(dir, "local.tar")
	require.NoError(t, os.WriteFile(tarball, tarTemplate(t, "../../examples/templates/local"), 0o600))
	shots, err := filepath.Abs("../../web/test-results")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(shots, 0o755))

	brokenDir := filepath.Join(dir, "broken")
	require.NoError(t, os.MkdirAll(brokenDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(brokenDir, "main.tf"), []byte("resource \"coder_agent\" \"main\" {\n  os = \n}\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(brokenDir, "extra.tf"), []byte("resource \"coder_devcontainer\" \"dc\" {\n  agent_id = \"x\"\n  workspace_folder = \"/src\"\n}\n"), 0o600))
	broken := filepath.Join(dir, "broken.tar")
	require.NoError(t, os.WriteFile(broken, tarTemplate(t, brokenDir), 0o600))

	forms := filepath.Join(dir, "forms.tar")
	require.NoError(t, os.WriteFile(forms, tarTemplate(t, "../../web/e2e/testdata/forms"), 0o600))

	dynamic := filepath.Join(dir, "dynamic.tar")
	require.NoError(t, os.WriteFile(dynamic, tarTemplate(t, "../../api/testdata/dynamic"), 0o600))

	prebuilt := filepath.Join(dir, "prebuilt.tar")
	require.NoError(t, os.WriteFile(prebuilt, tarTemplate(t, prebuiltTemplate(t, "1")), 0o600))

	cmd := exec.Command("node", "e2e/flow.mjs", srv.url, tarball, filepath.Join(dir, "workspaces"), shots, broken, forms, dynamic, prebuilt)
	cmd.Dir = "../../web"
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "e2e: done")
	for _, shot := range []string{"setup", "workspaces-empty", "templates", "template", "template-diagnostics", "create", "workspace", "terminal", "workspace-schedule", "workspace-update", "create-forms", "create-dynamic", "workspaces-after", "users", "tokens", "provisioners", "prebuilds", "create-claimed", "audit"} {
		require.FileExists(t, filepath.Join(shots, shot+".png"))
	}
}
