package coderprovider_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/coderprovider"
)

const taggedTemplate = `
data "coder_parameter" "where" {
  name    = "region"
  default = "eu"
}

data "coder_workspace_tags" "routing" {
  tags = {
    os        = "linux"
    "gpu"     = true
    region    = data.coder_parameter.where.value
    zone      = "${data.coder_parameter.where.value}"
    team      = local.team
  }
}
`

const unsupportedTemplate = `
resource "coder_agent" "main" {
  os   = "linux"
  arch = "amd64"
  resources_monitoring {
    memory {
      enabled   = true
      threshold = 80
    }
  }
  api_key_scope = "all"
}

resource "coder_devcontainer" "dc" {
  agent_id         = coder_agent.main.id
  workspace_folder = "/src"
}

resource "coder_app" "web" {
  agent_id = coder_agent.main.id
  slug     = "web"
  url      = "http://localhost:8080"
}

data "coder_not_a_thing" "x" {}

resource "docker_container" "dev" {
  order = 1
}
`

// Workspace tags are literals or parameter values (by the parameter's name, not its block's label);
// anything else is warned about with its line and left out.
func TestScanReadsWorkspaceTags(t *testing.T) {
	t.Parallel()
	src := coderprovider.Scan(map[string][]byte{"main.tf": []byte(taggedTemplate)})
	require.Equal(t, []coderprovider.WorkspaceTag{
		{Key: "os", Value: "linux"},
		{Key: "gpu", Value: "true"},
		{Key: "region", Parameter: "region"},
		{Key: "zone", Parameter: "region"},
	}, src.WorkspaceTags)
	require.Len(t, src.Warnings, 1)
	require.Equal(t, `main.tf:13: data "coder_workspace_tags" tags: tag team: its value must be a literal or data.coder_parameter.NAME.value to route builds; this tag is left out`,
		src.Warnings[0].String())
}

// Every construct and attribute Hearth does not honour is named with its file and line; what it
// honours, and resources of other providers, are not.
func TestScanWarnsAboutWhatHearthDoesNotHonour(t *testing.T) {
	t.Parallel()
	src := coderprovider.Scan(map[string][]byte{"sub/../main.tf": []byte(unsupportedTemplate), "README.md": []byte("not terraform {")})
	var got []string
	for _, w := range src.Warnings {
		got = append(got, w.String())
	}
	require.Equal(t, []string{
		`main.tf:11: resource "coder_agent" api_key_scope: not supported by Hearth: Agent tokens are not API keys; their scope is the workspace.`,
		`main.tf:14: resource "coder_devcontainer": not supported by Hearth: Dev containers are not started by the agent.`,
		`main.tf:25: data "coder_not_a_thing": not supported by Hearth: Not in coder provider 2.20.0, the version Hearth knows.`,
	}, got)
	require.Empty(t, coderprovider.Scan(map[string][]byte{"broken.tf": []byte("resource {")}).Warnings, "a file that does not parse is left to Terraform")
}
