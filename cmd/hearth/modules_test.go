package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tftest"
)

// hearth modules push makes a directory a registry module version, which a template then gets by
// its registry.coder.com source, with a version constraint, from the real binary's workers.
func TestModulesPushAndUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := startServer(t, "--postgres-url", dbtest.NewURL(t), "--data-dir", filepath.Join(dir, "server"), "--provisioners", "1",
		"--provider-mirror", tftest.Mirror(t))
	c, _ := signIn(t, srv.url, filepath.Join(dir, "cli"))
	mod := filepath.Join(dir, "greeter")
	require.NoError(t, os.MkdirAll(mod, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "main.tf"), []byte(`terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
variable "agent_id" {
  type = string
}
resource "coder_app" "greeter" {
  agent_id = var.agent_id
  slug     = "greeter"
  url      = "http://localhost:1"
}
`), 0o600))
	source := "registry.coder.com/acme/greeter/coder"
	out, errOut, code := c.run("", "modules", "push", mod, "--source", source, "--version", "1.0.0")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Pushed "+source+" 1.0.0")
	_, errOut, code = c.run("", "modules", "push", mod, "--source", source, "--version", "1.0.0")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "exists already")
	_, errOut, code = c.run("", "modules", "push", filepath.Join(dir, "nope"), "--source", source, "--version", "1.0.1")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "is not a module directory")
	out, _, code = c.run("", "modules", "list")
	require.Equal(t, 0, code)
	require.Regexp(t, `(?m)^registry\.coder\.com/acme/greeter/coder +1\.0\.0 +just now$`, out)

	tmpl := filepath.Join(dir, "tmpl")
	require.NoError(t, os.MkdirAll(tmpl, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tmpl, "main.tf"), []byte(`terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
}
module "greeter" {
  source   = "`+source+`"
  version  = ">= 1.0.0, < 2.0.0"
  agent_id = coder_agent.main.id
}
`), 0o600))
	_, errOut, code = c.run("", "templates", "push", tmpl, "--name", "withmodule")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, errOut, "Downloading registry.coder.com/acme/greeter/coder 1.0.0 for greeter", "Terraform fetched it from Hearth")
}
