package jobargs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/jobs/jobargs"
)

func TestProvisionerQueues(t *testing.T) {
	t.Parallel()
	require.Equal(t, "provisioner", jobargs.ProvisionerQueue(nil))
	require.Equal(t, "provisioner:gpu=a100,region=eu", jobargs.ProvisionerQueue(map[string]string{"region": "eu", "gpu": "a100"}))
	require.Equal(t, []string{"provisioner"}, jobargs.ProvisionerQueues(nil), "untagged workers take only untagged jobs")
	require.Equal(t, []string{"provisioner:gpu=a100,region=eu", "provisioner:gpu=a100", "provisioner:region=eu"},
		jobargs.ProvisionerQueues(map[string]string{"region": "eu", "gpu": "a100"}), "a tagged worker takes jobs whose tags it all has")
}
