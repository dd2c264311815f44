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
