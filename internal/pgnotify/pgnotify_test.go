package pgnotify_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/pgnotify"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestOnlyCommittedNotificationsWake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	l, err := pgnotify.Listen(ctx, d.Pool, "test_channel", dbtest.Logger())
	require.NoError(t, err)
	defer l.Close()

	// A committed notification wakes a waiter on its payload (sent until the waiter is registered).
	woke := make(chan bool, 1)
	go func() {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		woke <- l.Wait(c, "other", "queue-a")
	}()
	deadline := time.Now().Add(30 * time.Second)
	for got := false; !got; {
		require.NoError(t, pgnotify.Notify(ctx, d.Pool, "test_channel", "queue-a"))
		select {
		case ok := <-woke:
			require.True(t, ok)
			got = true
		case <-time.After(20 * time.Millisecond):
			require.True(t, time.Now().Before(deadline))
		}
	}

	// Rolled-back and unrelated notifications never wake it.
	go func() {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		woke <- l.Wait(c, "queue-a")
	}()
	rollback := errors.New("roll back")
	for end := time.Now().Add(250 * time.Millisecond); time.Now().Before(end); {
		require.ErrorIs(t, d.InTx(ctx, func(tx db.Tx) error {
			require.NoError(t, pgnotify.Notify(ctx, tx.Raw, "test_channel", "queue-a"))
			return rollback
		}), rollback)
		require.NoError(t, pgnotify.Notify(ctx, d.Pool, "test_channel", "unrelated"))
	}
	require.False(t, <-woke)
}
