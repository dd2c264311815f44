package jobargs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/jobs/jobargs"
)

func TestProvisionerQueues(t *testing.T) {
	t.Parallel()
	require.Equal(t, "provisioner", jobargs.ProvisionerQueue(nil))
	both := map[string]string{"region": "eu", "gpu": "a100"}
	require.Equal(t, "gpu=a100,region=eu", jobargs.TagLabel(both))
	q := jobargs.ProvisionerQueue(both)
	require.Regexp(t, `^provisioner-[0-9a-f]{20}$`, q, "River's rules for queue names")
	require.Equal(t, []string{"provisioner"}, jobargs.ProvisionerQueues(nil), "untagged workers take only untagged jobs")
	require.Equal(t, []string{q, jobargs.ProvisionerQueue(map[string]string{"gpu": "a100"}), jobargs.ProvisionerQueue(map[string]string{"region": "eu"})},
		jobargs.ProvisionerQueues(both), "a tagged worker takes jobs whose tags it all has, most specific first")
}
