package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSecretKeyIsMadeOnceAndKept(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "data", "secret.key")
	_, err := secretKey(path, false)
	require.Error(t, err, "a named file must exist")
	first, err := secretKey(path, true)
	require.NoError(t, err)
	require.Len(t, first, 32)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	dir, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o711), dir.Mode().Perm()&^0o022,
		"the data directory stays traversable for an embedded PostgreSQL running as another user")
	again, err := secretKey(path, true)
	require.NoError(t, err)
	require.Equal(t, first, again)

	require.NoError(t, os.WriteFile(path, []byte("not hex\n"), 0o600))
	_, err = secretKey(path, true)
	require.ErrorContains(t, err, "64 hexadecimal digits")
}
