package seal_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/seal"
)

func TestSealedValuesOpenOnlyWithTheSameKeyPurposeAndContext(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte{7}, 32)
	state, err := seal.New(secret, "state")
	require.NoError(t, err)
	sealed := state.Seal([]byte("token = abc"), "build-1")
	require.NotContains(t, string(sealed), "abc")

	plain, err := state.Open(sealed, "build-1")
	require.NoError(t, err)
	require.Equal(t, "token = abc", string(plain))

	_, err = state.Open(sealed, "build-2")
	require.ErrorIs(t, err, seal.ErrOpen, "another row's context")
	vars, err := seal.New(secret, "variables")
	require.NoError(t, err)
	_, err = vars.Open(sealed, "build-1")
	require.ErrorIs(t, err, seal.ErrOpen, "another purpose")
	other, err := seal.New(bytes.Repeat([]byte{8}, 32), "state")
	require.NoError(t, err)
	_, err = other.Open(sealed, "build-1")
	require.ErrorIs(t, err, seal.ErrOpen, "another secret key")
	_, err = state.Open(sealed[:5], "build-1")
	require.ErrorIs(t, err, seal.ErrOpen, "truncated")

	_, err = seal.New([]byte("short"), "state")
	require.Error(t, err)
}
