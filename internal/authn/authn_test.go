package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/pgnotify"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// userWithKey stores a user and one key of kind for it, expiring at expires.
func userWithKey(t testing.TB, d *db.DB, kind string, expires time.Time) (dbsqlc.User, apikey.Key) {
	t.Helper()
	ctx := context.Background()
	u, err := d.InsertUser(ctx, dbsqlc.InsertUserParams{Username: "ada", Email: "ada@example.com", Roles: []string{}})
	require.NoError(t, err)
	k := apikey.New()
	_, err = d.InsertAPIKey(ctx, dbsqlc.InsertAPIKeyParams{ID: k.ID, UserID: u.ID, Kind: kind, Name: "t",
		SecretHash: k.SecretHash, Scopes: []string{"all"}, ExpiresAt: expires})
	require.NoError(t, err)
	return u, k
}

// A key revoked through another replica stops working here once the cached entry is older than
// CacheTTL, and not before: that is the documented bound.
func TestRevocationIsHonouredWithinTheCacheTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	u, k := userWithKey(t, d, "token", time.Now().Add(time.Hour))

	now := time.Now()
	a := New(d)
	a.now = func() time.Time { return now }
	actor, err := a.Authenticate(ctx, k.Token)
	require.NoError(t, err)
	require.Equal(t, "ada", actor.Username)
	require.Equal(t, k.ID, actor.KeyID)

	_, err = d.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: k.ID, UserID: u.ID}) // revoked elsewhere
	require.NoError(t, err)
	now = now.Add(CacheTTL - time.Millisecond)
	_, err = a.Authenticate(ctx, k.Token)
	require.NoError(t, err, "still cached")
	now = now.Add(2 * time.Millisecond)
	_, err = a.Authenticate(ctx, k.Token)
	require.ErrorIs(t, err, ErrInvalidToken)
}

func TestWrongSecretExpiredAndMalformedTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	_, k := userWithKey(t, d, "session", time.Now().Add(time.Minute))
	a := New(d)
	other := apikey.New()
	for name, token := range map[string]string{
		"wrong secret": apikey.Prefix + k.ID + "_" + other.Token[len(other.Token)-32:],
		"malformed":    "hrt_nope",
		"not ours":     "ghp_abcdef",
		"unknown id":   other.Token,
	} {
		_, err := a.Authenticate(ctx, token)
		require.ErrorIs(t, err, ErrInvalidToken, name)
	}
	now := time.Now().Add(2 * time.Minute)
	a.now = func() time.Time { return now }
	_, err := a.Authenticate(ctx, k.Token)
	require.ErrorIs(t, err, ErrInvalidToken, "expired")
}

// Check holds something issued to a session to it by the key's ID alone: it answers while the key
// authenticates, and stops on revocation (Forget), expiry and suspension.
func TestCheckFollowsTheSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	u, k := userWithKey(t, d, "session", time.Now().Add(time.Hour))
	a := New(d)
	actor, err := a.Check(ctx, k.ID)
	require.NoError(t, err)
	require.Equal(t, u.ID, actor.UserID)

	_, err = d.Pool.Exec(ctx, "UPDATE users SET status = 'suspended' WHERE id = $1", u.ID)
	require.NoError(t, err)
	a.ForgetUser(ctx, u.ID)
	_, err = a.Check(ctx, k.ID)
	require.ErrorIs(t, err, ErrSuspended)

	_, err = d.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: k.ID, UserID: u.ID})
	require.NoError(t, err)
	a.Forget(ctx, k.ID)
	_, err = a.Check(ctx, k.ID)
	require.ErrorIs(t, err, ErrInvalidToken)

	_, k2 := func() (dbsqlc.User, apikey.Key) {
		k := apikey.New()
		_, err := d.InsertAPIKey(ctx, dbsqlc.InsertAPIKeyParams{ID: k.ID, UserID: u.ID, Kind: "session", Name: "t2",
			SecretHash: k.SecretHash, Scopes: []string{"all"}, ExpiresAt: time.Now().Add(time.Minute)})
		require.NoError(t, err)
		return u, k
	}()
	_, err = d.Pool.Exec(ctx, "UPDATE users SET status = 'active' WHERE id = $1", u.ID)
	require.NoError(t, err)
	_, err = a.Check(ctx, k2.ID)
	require.NoError(t, err)
	now := time.Now().Add(2 * time.Minute)
	a.now = func() time.Time { return now }
	_, err = a.Check(ctx, k2.ID)
	require.ErrorIs(t, err, ErrInvalidToken, "expired")
}

// BenchmarkAuthenticateCached is the hot path: a token seen within CacheTTL costs no query.
func BenchmarkAuthenticateCached(b *testing.B) {
	ctx := context.Background()
	d := dbtest.New(b)
	_, k := userWithKey(b, d, "token", time.Now().Add(time.Hour))
	a := New(d)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, k.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Two replicas: a key revoked on one stops working on the other as soon as the notification
// arrives, well within the cache's lifetime; so does a change to its user.
func TestRevocationReachesAWatchingReplicaAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	u, k := userWithKey(t, d, "token", time.Now().Add(time.Hour))
	here, there := New(d), New(d)
	l, err := pgnotify.Listen(ctx, d.Pool, RevocationChannel, dbtest.Logger())
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	there.Watch(l)
	there.now = func() time.Time { return time.Now().Add(-time.Minute) } // its cache would hold far longer

	_, err = there.Authenticate(ctx, k.Token)
	require.NoError(t, err)
	_, err = d.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: k.ID, UserID: u.ID})
	require.NoError(t, err)
	start := time.Now()
	here.Forget(ctx, k.ID)
	for {
		if _, err := there.Authenticate(ctx, k.Token); err != nil {
			require.ErrorIs(t, err, ErrInvalidToken)
			break
		}
		require.Less(t, time.Since(start), 2*time.Second, "the other replica still takes the revoked key")
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("revocation reached the other replica in %s", time.Since(start).Round(time.Millisecond))

	k2 := anotherKey(t, d, u)
	_, err = there.Authenticate(ctx, k2.Token)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `UPDATE users SET status = 'suspended' WHERE id = $1`, u.ID)
	require.NoError(t, err)
	here.ForgetUser(ctx, u.ID)
	require.Eventually(t, func() bool {
		_, err := there.Authenticate(ctx, k2.Token)
		return errors.Is(err, ErrSuspended)
	}, 2*time.Second, 5*time.Millisecond, "a suspension reaches the other replica too")
}

// anotherKey stores one more key for u.
func anotherKey(t testing.TB, d *db.DB, u dbsqlc.User) apikey.Key {
	t.Helper()
	k := apikey.New()
	_, err := d.InsertAPIKey(context.Background(), dbsqlc.InsertAPIKeyParams{ID: k.ID, UserID: u.ID, Kind: "token", Name: "t2",
		SecretHash: k.SecretHash, Scopes: []string{"all"}, ExpiresAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	return k
}
