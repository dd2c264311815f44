package password_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/password"
)

func TestHashAndCheck(t *testing.T) {
	t.Parallel()
	h := password.Hash("correct-horse")
	require.NotContains(t, h, "correct-horse")
	require.NotEqual(t, h, password.Hash("correct-horse"), "salted")
	ok, err := password.Check(h, "correct-horse")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = password.Check(h, "correct-horsf")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = password.Check("$2a$10$bcrypt", "x")
	require.ErrorIs(t, err, password.ErrMalformedHash)
	require.Error(t, password.Validate("short"))
	require.NoError(t, password.Validate("long enough"))
}
