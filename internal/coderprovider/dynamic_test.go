package coderprovider_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/coderprovider"
)

// Options, defaults and presence follow the values chosen so far, and the owner.
func TestDynamicParametersFollowTheChosenValues(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../../api/testdata/dynamic/main.tf") // the template the API and dashboard tests use
	require.NoError(t, err)
	p := coderprovider.Parse(map[string][]byte{"main.tf": src})
	require.True(t, p.Dynamic())
	byName := func(ps []coderprovider.EvalParameter) map[string]coderprovider.EvalParameter {
		m := map[string]coderprovider.EvalParameter{}
		for _, x := range ps {
			m[x.Name] = x
		}
		return m
	}

	first := byName(p.Evaluate(coderprovider.EvalInput{Owner: coderprovider.EvalOwner{Name: "ada"}}))
	require.Equal(t, []coderprovider.EvalOption{{Name: "Ireland", Value: "eu-west-1"}, {Name: "N. Virginia", Value: "us-east-1"}}, first["region"].Options)
	require.Equal(t, "eu-west-1", first["region"].Value, "the default follows the cloud's default")
	require.NotContains(t, first, "gpu_kind", "count = 0: not there")

	gcp := byName(p.Evaluate(coderprovider.EvalInput{Values: map[string]string{"cloud": "gcp"}, Owner: coderprovider.EvalOwner{Groups: []string{"ml"}}}))
	require.Equal(t, []coderprovider.EvalOption{{Name: "Netherlands", Value: "europe-west4"}}, gcp["region"].Options)
	require.Equal(t, "europe-west4", gcp["region"].Value)
	require.Equal(t, "true", gcp["gpu"].Value, "the owner's groups reach defaults")
	require.Equal(t, "a100", gcp["gpu_kind"].Value, "and the parameter that needs a GPU appears")

	stale := byName(p.Evaluate(coderprovider.EvalInput{Values: map[string]string{"cloud": "gcp", "region": "us-east-1"}}))
	require.Equal(t, []string{`"us-east-1" is not one of the options these values allow`}, stale["region"].Diagnostics)
	require.False(t, coderprovider.Parse(map[string][]byte{"main.tf": []byte(`data "coder_parameter" "x" {
  name    = "x"
  default = "a"
}`)}).Dynamic(), "literals only: nothing to evaluate")
}

// A claimed prebuild's agents get the env a build for the new owner would write, where it can be
// known without Terraform; entries that need a resource keep what the prebuild's build wrote.
func TestAgentEnvFollowsTheOwner(t *testing.T) {
	t.Parallel()
	p := coderprovider.Parse(map[string][]byte{"main.tf": []byte(`
data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}
data "coder_parameter" "shell" {
  name    = "shell"
  default = "bash"
}
locals {
  author = coalesce(data.coder_workspace_owner.me.full_name, data.coder_workspace_owner.me.name)
}
resource "docker_container" "c" {}
resource "coder_agent" "main" {
  env = {
    GIT_AUTHOR_NAME  = local.author
    GIT_AUTHOR_EMAIL = data.coder_workspace_owner.me.email
    SHELL            = data.coder_parameter.shell.value
    WORKSPACE        = "${data.coder_workspace.me.name}-${data.coder_workspace.me.id}"
    CLAIMED          = data.coder_workspace.me.is_prebuild_claim
    CONTAINER        = docker_container.c.id
  }
}
resource "coder_agent" "side" {
  env = docker_container.c.env
}
`)})
	env := p.AgentEnv(coderprovider.EvalInput{Values: map[string]string{"shell": "zsh"}, Workspace: "dev", WorkspaceID: "42", Claim: true,
		Owner: coderprovider.EvalOwner{Name: "ada", Email: "ada@example.com"}})
	require.Equal(t, map[string]map[string]string{"main": {"GIT_AUTHOR_NAME": "ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
		"SHELL": "zsh", "WORKSPACE": "dev-42", "CLAIMED": "true"}}, env)
}
