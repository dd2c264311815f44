package provisioner

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// niceOf is the nice value of a process started now (field 19 of /proc/PID/stat; the command name
// in field 2 has no spaces here).
func niceOf(t *testing.T) string {
	out, err := exec.Command("cat", "/proc/self/stat").Output()
	require.NoError(t, err)
	return strings.Fields(string(out))[18]
}

// A process started through niced runs at the nice value given; processes started afterwards, on
// the worker's other threads, do not.
func TestNiced(t *testing.T) {
	if niceOf(t) != "0" {
		t.Skip("the tests already run at a nice value")
	}
	var inside string
	require.NoError(t, niced(10, func() error { inside = niceOf(t); return nil }))
	require.Equal(t, "10", inside)
	for range 20 { // whichever thread runs next
		require.Equal(t, "0", niceOf(t))
	}
	require.NoError(t, niced(0, func() error { inside = niceOf(t); return nil }))
	require.Equal(t, "0", inside)
}
