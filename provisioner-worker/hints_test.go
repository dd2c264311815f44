package provisioner

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The docker provider's words for a dead engine, a missing image and a name taken, as it prints them,
// get what is wrong and what to do in front.
func TestDeadDependenciesAreNamed(t *testing.T) {
	t.Parallel()
	for why, want := range map[string]string{
		"Error: failed to create Docker client: Error pinging Docker server, please make sure that unix:///tmp/nope.sock is reachable and has a  '_ping' endpoint. Error: Cannot connect to the Docker daemon at unix:///tmp/nope.sock. Is the docker daemon running?": "cannot reach Docker at unix:///tmp/nope.sock: start the engine there",
		"Error: did not find docker image 'nosuch:latest'": "image nosuch:latest not found on this host; build it (go tool task workspace-image",
		`Error: Unable to create container: Error response from daemon: Conflict. The container name "/coder-ada-box" is already in use by container "73c3"`: "a container named coder-ada-box already exists on the Docker host",
	} {
		require.Contains(t, hint(why), want, why)
	}
	require.Empty(t, hint("Error: Invalid reference"), "other errors keep Terraform's words alone")
}
