package jobs

import (
	"context"
	"testing"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tickets"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestSigningKeysRotateWhenOld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	signer, err := tickets.NewSigner(ctx, d, make([]byte, 32), "x")
	require.NoError(t, err)
	w := &rotateKeysWorker{keys: signer}
	count := func() (n int) {
		require.NoError(t, d.Pool.QueryRow(ctx, "SELECT count(*) FROM signing_keys").Scan(&n))
		return n
	}
	require.NoError(t, w.Work(ctx, &river.Job[jobargs.RotateSigningKeys]{}))
	require.Equal(t, 1, count(), "a young key stays")
	_, err = d.Pool.Exec(ctx, "UPDATE signing_keys SET created_at = now() - interval '31 days'")
	require.NoError(t, err)
	require.NoError(t, w.Work(ctx, &river.Job[jobargs.RotateSigningKeys]{}))
	require.Equal(t, 2, count(), "an old key is rotated and still verifies for a while")
	age, err := signer.CurrentKeyAge(ctx)
	require.NoError(t, err)
	require.Less(t, age, KeyRotationAge)
}
