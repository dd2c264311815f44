package gitsshkey_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/gitsshkey"
	"github.com/hearthdev/hearth/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Many builds of one owner starting at once (each in its own transaction) agree on the owner's first
// key pair: one is made, and every transaction gets it.
func TestConcurrentFirstUseMakesOnePair(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	u, err := d.InsertUser(ctx, dbsqlc.InsertUserParams{Username: "ada", Email: "ada@example.com", Roles: []string{}})
	require.NoError(t, err)
	box, err := seal.New(make([]byte, 32), "git-ssh-keys")
	require.NoError(t, err)
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			require.NoError(t, d.InTx(ctx, func(tx db.Tx) error {
				k, err := gitsshkey.Get(ctx, tx.Queries, box, u.ID)
				keys[i] = k.PublicKey
				time.Sleep(100 * time.Millisecond) // the rest of a claim: the others wait on this one's insert
				return err
			}))
		})
	}
	wg.Wait()
	for _, k := range keys {
		require.Equal(t, keys[0], k)
		require.NotEmpty(t, k)
	}
}
