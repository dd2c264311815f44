package codercmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeRoot writes files under a temporary root that stands for / (the container's view).
func fakeRoot(t *testing.T, files map[string]string) sys {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	return sys{root: root}
}

const meminfo = "MemTotal:       8388608 kB\nMemFree:         1000000 kB\nMemAvailable:    6291456 kB\n"

func coder(s sys, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(s, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestMemoryOfACgroupV1ContainerIsItsUsageLessInactiveCacheAgainstItsLimit(t *testing.T) {
	s := fakeRoot(t, map[string]string{
		"/.dockerenv":   "",
		"/proc/meminfo": meminfo,
		"/sys/fs/cgroup/memory/memory.usage_in_bytes": "1610612736\n",
		"/sys/fs/cgroup/memory/memory.stat":           "cache 1\ntotal_inactive_file 536870912\n",
		"/sys/fs/cgroup/memory/memory.limit_in_bytes": "4294967296\n",
	})
	code, out, _ := coder(s, "stat", "mem")
	require.Equal(t, 0, code)
	require.Equal(t, "1/4 GiB (25%)\n", out)

	_, out, _ = coder(s, "stat", "mem", "--host")
	require.Equal(t, "2/8 GiB (25%)\n", out, "--host: the host's MemTotal less MemAvailable")

	_, out, _ = coder(s, "stat", "mem", "--prefix", "Mi", "-o", "json")
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	require.Equal(t, map[string]any{"used": float64(1 << 30), "total": float64(4 << 30), "unit": "B"}, m)
}

func TestAContainerWithoutAMemoryLimitHasTheHostsMemory(t *testing.T) {
	s := fakeRoot(t, map[string]string{
		"/.dockerenv":   "",
		"/proc/meminfo": meminfo,
		"/sys/fs/cgroup/memory/memory.usage_in_bytes": "2147483648\n",
		"/sys/fs/cgroup/memory/memory.stat":           "total_inactive_file 0\n",
		"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
	})
	_, out, _ := coder(s, "stat", "mem")
	require.Equal(t, "2/8 GiB (25%)\n", out)
}

func TestMemoryOfACgroupV2Container(t *testing.T) {
	s := fakeRoot(t, map[string]string{
		"/proc/meminfo":                     meminfo,
		"/sys/fs/cgroup/cgroup.controllers": "cpu memory\n",
		"/sys/fs/cgroup/cpu.max":            "200000 100000\n",
		"/sys/fs/cgroup/cpu.stat":           "usage_usec 5000\n",
		"/sys/fs/cgroup/memory.current":     "536870912\n",
		"/sys/fs/cgroup/memory.stat":        "inactive_file 0\n",
		"/sys/fs/cgroup/memory.max":         "max\n",
	})
	_, out, _ := coder(s, "stat", "mem", "--prefix", "Mi")
	require.Equal(t, "512/8192 MiB (6%)\n", out)
	// CPU: nothing ran during the sample, against the 2-core quota.
	_, out, _ = coder(s, "stat", "cpu")
	require.Equal(t, "0/2 cores (0%)\n", out)
}

func TestHostCPUIsTheBusyShareOfAllCores(t *testing.T) {
	s := fakeRoot(t, map[string]string{
		"/proc/stat":    "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0 0 0\n",
		"/proc/meminfo": meminfo,
	})
	// The file does not change during the sample: no time passed, nothing was busy.
	code, out, _ := coder(s, "stat", "cpu")
	require.Equal(t, 0, code)
	require.Equal(t, "0/2 cores (0%)\n", out)
}

func TestDiskIsTheFileSystemOfThePath(t *testing.T) {
	code, out, _ := coder(sys{root: "/"}, "stat", "disk", "--path", t.TempDir(), "-o", "json")
	require.Equal(t, 0, code)
	var m measurement
	require.NoError(t, json.Unmarshal([]byte(out), &m))
	require.Equal(t, "B", m.Unit)
	require.NotNil(t, m.Total)
	require.Greater(t, *m.Total, m.Used)
	require.Positive(t, m.Used)

	code, _, errOut := coder(sys{root: "/"}, "stat", "disk", "--path", "/no/such/dir")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "/no/such/dir")
}

func TestTheRealMachineIsMeasured(t *testing.T) {
	for _, what := range []string{"cpu", "mem", "disk"} {
		code, out, errOut := coder(sys{root: "/"}, "stat", what)
		require.Equal(t, 0, code, errOut)
		require.Regexp(t, `^[0-9.]+/[0-9.]+ (cores|GiB) \([0-9]+%\)\n$`, out, what)
	}
	code, out, errOut := coder(sys{root: "/"}, "stat")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "HOST CPU")
}

func TestCommandsHearthDoesNotHaveSaySo(t *testing.T) {
	code, _, errOut := coder(sys{root: "/"}, "templates", "push")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "coder templates: not a command of Hearth's in-workspace coder")
	code, _, errOut = coder(sys{root: "/"}, "stat", "gpu")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "use cpu, mem or disk")
	code, _, errOut = coder(sys{root: "/"}, "stat", "mem", "--prefix", "Xi")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "use Ki, Mi, Gi or Ti")
}

func TestHumanizedNumbersHaveThreeSignificantDigits(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 1: "1", 0.256: "0.256", 1.234: "1.23", 12.345: "12.3", 1234.6: "1235", 7.8: "7.8"} {
		require.Equal(t, want, humanize(in), "%v", in)
	}
}
