package coderprovider_test

import (
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/coderprovider"
)

// A state file is read as `terraform show -json` would present it: one resource per instance, with
// its address, mode and attributes, modules' resources included.
func TestAStateFileIsReadWithoutTerraform(t *testing.T) {
	t.Parallel()
	st, err := coderprovider.ReadState([]byte(`{"version":4,"terraform_version":"1.11.0","resources":[
	 {"mode":"data","type":"coder_workspace","name":"me","provider":"provider[\"registry.terraform.io/coder/coder\"]",
	  "instances":[{"schema_version":0,"attributes":{"id":"w1","start_count":1}}]},
	 {"mode":"managed","type":"coder_agent","name":"main","provider":"provider[\"registry.terraform.io/coder/coder\"]",
	  "instances":[{"schema_version":1,"attributes":{"id":"a1","token":"secret","os":"linux"},"sensitive_attributes":[]}]},
	 {"module":"module.apps","mode":"managed","type":"coder_app","name":"code","provider":"provider[\"registry.terraform.io/coder/coder\"]",
	  "instances":[{"index_key":0,"attributes":{"agent_id":"a1","slug":"code"}},{"index_key":"b","attributes":{"agent_id":"a1","slug":"b"}}]}
	]}`))
	require.NoError(t, err)
	var got []string
	for _, r := range st.Values.RootModule.Resources {
		got = append(got, r.Address+" "+string(r.Mode))
	}
	require.Equal(t, []string{"data.coder_workspace.me data", "coder_agent.main managed",
		`module.apps.coder_app.code[0] managed`, `module.apps.coder_app.code["b"] managed`}, got)
	agent := st.Values.RootModule.Resources[1]
	require.Equal(t, "secret", agent.AttributeValues["token"])

	res := coderprovider.ParseBuild(st, &tfjson.Plan{}, "start")
	require.Len(t, res, 1, "an agent on no resource stands for one of its own")
	require.Len(t, res[0].Agents, 1)
	require.Len(t, res[0].Agents[0].Apps, 2, "the module's apps find their agent by its id")

	none, err := coderprovider.ReadState(nil)
	require.NoError(t, err)
	require.Nil(t, none, "no state: nothing was ever created")

	_, err = coderprovider.ReadState([]byte(`{"version":3,"modules":[]}`))
	require.ErrorContains(t, err, "format version 3")
	_, err = coderprovider.ReadState([]byte(`{`))
	require.ErrorContains(t, err, "not JSON")
}
