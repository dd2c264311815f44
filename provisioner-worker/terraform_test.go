package provisioner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/tftest"
)

// initWith runs terraform init on a configuration needing the coder provider (and extra), with the
// CLI configuration a job of r gets.
func initWith(t *testing.T, r *Runner, extra string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`terraform {
  required_providers {
    coder = { source = "coder/coder" }
`+extra+`
  }
}
`), 0o600))
	rc := filepath.Join(dir, "terraform.rc")
	require.NoError(t, os.WriteFile(rc, []byte(r.cliConfig()+r.moduleConfig(&client.ProvisionerJob{})), 0o600))
	cmd := exec.Command("terraform", "init", "-input=false", "-no-color")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1"}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Providers come from the mirrors in order, a later one filling what an earlier one lacks; without
// Direct, one that no mirror has fails init at once, with no registry contacted.
func TestProvidersComeFromTheOperatorsMirrors(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	r := &Runner{Mirrors: []string{empty, tftest.Mirror(t)}}
	cfg := r.cliConfig()
	require.Equal(t, 2, strings.Count(cfg, "filesystem_mirror {"), cfg)
	require.NotContains(t, cfg, "direct", "registries only when the operator allows them")

	out, err := initWith(t, r, "")
	require.NoError(t, err, out)
	require.Contains(t, out, "Installed coder/coder")

	out, err = initWith(t, r, `    nothere = { source = "example.com/acme/nothere" }`)
	require.Error(t, err, out)
	require.Contains(t, out, "example.com/acme/nothere")

	direct := (&Runner{Mirrors: []string{tftest.Mirror(t)}, Direct: true}).cliConfig()
	require.Contains(t, direct, `direct {`)
	require.Regexp(t, `exclude = \[[^\]]*"registry\.terraform\.io/coder/coder"`, direct, "mirrored providers never come from their registry")
	require.Contains(t, (&Runner{}).cliConfig(), "no provider mirror", "with no mirror at all, registries it is")
}
