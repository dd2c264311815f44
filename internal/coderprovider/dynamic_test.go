package coderprovider_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/coderprovider"
)

const dynamicTemplate = `
locals {
  regions = {
    aws = { "us-east-1" = "N. Virginia", "eu-west-1" = "Ireland" }
    gcp = { "europe-west4" = "Netherlands" }
  }
}

data "coder_workspace_owner" "me" {}

data "coder_parameter" "cloud" {
  name    = "cloud"
  default = "aws"
  option {
    name  = "AWS"
    value = "aws"
  }
  option {
    name  = "Google Cloud"
    value = "gcp"
  }
}

data "coder_parameter" "region" {
  name    = "region"
  default = keys(local.regions[data.coder_parameter.cloud.value])[0]
  dynamic "option" {
    for_each = local.regions[data.coder_parameter.cloud.value]
    content {
      name  = option.value
      value = option.key
    }
  }
}

data "coder_parameter" "gpu" {
  name    = "gpu"
  type    = "bool"
  default = contains(data.coder_workspace_owner.me.groups, "ml") ? "true" : "false"
}

data "coder_parameter" "gpu_kind" {
  count   = data.coder_parameter.gpu.value == "true" ? 1 : 0
  name    = "gpu_kind"
  default = "a100"
  order   = 9
}
`

// Options, defaults and presence follow the values chosen so far, and the owner.
func TestDynamicParametersFollowTheChosenValues(t *testing.T) {
	t.Parallel()
	p := coderprovider.Parse(map[string][]byte{"main.tf": []byte(dynamicTemplate)})
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
