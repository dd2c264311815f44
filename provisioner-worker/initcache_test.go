package provisioner

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// What init links from a mirror (Terraform makes the links relative) still resolves once the
// .terraform directory has moved into the cache.
func TestAnInitMovedIntoTheCacheKeepsItsLinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	mirror := filepath.Join(root, "mirror", "p")
	require.NoError(t, os.MkdirAll(mirror, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mirror, "provider"), []byte("binary"), 0o755))
	data := filepath.Join(root, "jobs", "job-1", "src", ".terraform", "providers")
	require.NoError(t, os.MkdirAll(data, 0o755))
	rel, err := filepath.Rel(data, mirror)
	require.NoError(t, err)
	require.NoError(t, os.Symlink(rel, filepath.Join(data, "p")))

	require.NoError(t, absoluteLinks(filepath.Join(root, "jobs")))
	moved := filepath.Join(root, "init-cache", "k", "data")
	require.NoError(t, os.MkdirAll(filepath.Dir(moved), 0o755))
	require.NoError(t, os.Rename(filepath.Join(root, "jobs", "job-1", "src", ".terraform"), moved))
	b, err := os.ReadFile(filepath.Join(moved, "providers", "p", "provider"))
	require.NoError(t, err)
	require.Equal(t, "binary", string(b))
}
