package tickets_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tickets"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func secret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func TestSignAndVerifyWithThePublicKeysOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	s, err := tickets.NewSigner(ctx, d, secret(), "https://hearth.example")
	require.NoError(t, err)
	ticket, err := s.Sign(ctx, tickets.KindJob, "worker-1", "job-42", time.Minute)
	require.NoError(t, err)

	set, err := s.KeySet(ctx)
	require.NoError(t, err)
	// A component without the database gets the keys as JWKs, over the API.
	remote, err := tickets.ParseJWKs(set.JWKs())
	require.NoError(t, err)
	c, err := remote.Verify(ticket, tickets.KindJob)
	require.NoError(t, err)
	require.Equal(t, "job-42", c.Resource)
	require.Equal(t, "worker-1", c.Subject)
	require.Equal(t, "https://hearth.example", c.Issuer)

	_, err = remote.Verify(ticket, tickets.KindApp)
	require.ErrorIs(t, err, tickets.ErrInvalid, "a job token is not an app ticket")

	parts := strings.Split(ticket, ".")
	claims := []byte(parts[1])
	claims[len(claims)/2] ^= 1
	_, err = remote.Verify(parts[0]+"."+string(claims)+"."+parts[2], tickets.KindJob)
	require.ErrorIs(t, err, tickets.ErrInvalid, "tampered claims")

	// Signed with another key under the same key ID.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, tickets.Claims{Resource: "job-42", RegisteredClaims: jwt.RegisteredClaims{
		Audience: jwt.ClaimStrings{"job"}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}})
	forged.Header["kid"] = set.JWKs()[0].KeyID
	raw, err := forged.SignedString(other)
	require.NoError(t, err)
	_, err = remote.Verify(raw, tickets.KindJob)
	require.ErrorIs(t, err, tickets.ErrInvalid)

	// alg none is never accepted.
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, tickets.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Audience: jwt.ClaimStrings{"job"}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))}}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	_, err = remote.Verify(none, tickets.KindJob)
	require.ErrorIs(t, err, tickets.ErrInvalid)

	_, err = s.Sign(ctx, tickets.KindJob, "w", "j", 2*time.Hour)
	require.Error(t, err, "tickets are short-lived")
}

func TestExpiredTicketsAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := tickets.NewSigner(ctx, dbtest.New(t), secret(), "x")
	require.NoError(t, err)
	tickets.SetClock(s, func() time.Time { return time.Now().Add(-time.Hour) })
	ticket, err := s.Sign(ctx, tickets.KindConnection, "u", "agent", time.Minute)
	require.NoError(t, err)
	set, err := s.KeySet(ctx)
	require.NoError(t, err)
	_, err = set.Verify(ticket, tickets.KindConnection)
	require.ErrorIs(t, err, tickets.ErrInvalid)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
}

func TestRotationKeepsTicketsInFlightValid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	key := secret()
	a, err := tickets.NewSigner(ctx, d, key, "x")
	require.NoError(t, err)
	b, err := tickets.NewSigner(ctx, d, key, "x") // another replica
	require.NoError(t, err)
	before, err := a.Sign(ctx, tickets.KindApp, "u", "app", time.Minute)
	require.NoError(t, err)

	require.NoError(t, a.Rotate(ctx))
	after, err := a.Sign(ctx, tickets.KindApp, "u", "app", time.Minute)
	require.NoError(t, err)
	kid := func(tok string) string {
		p, _, err := jwt.NewParser().ParseUnverified(tok, &tickets.Claims{})
		require.NoError(t, err)
		return p.Header["kid"].(string)
	}
	require.NotEqual(t, kid(before), kid(after))

	// The other replica learns the new key on its next refresh; both tickets verify with it.
	tickets.SetClock(b, func() time.Time { return time.Now().Add(2 * time.Minute) })
	set, err := b.KeySet(ctx)
	require.NoError(t, err)
	require.Len(t, set.JWKs(), 2)
	for _, tok := range []string{before, after} {
		_, err := set.Verify(tok, tickets.KindApp)
		require.NoError(t, err)
	}
	age, err := a.CurrentKeyAge(ctx)
	require.NoError(t, err)
	require.Less(t, age, time.Minute)
}

func TestAReplicaWithAnotherSecretKeyIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	_, err := tickets.NewSigner(ctx, d, secret(), "x")
	require.NoError(t, err)
	_, err = tickets.NewSigner(ctx, d, secret(), "x")
	require.ErrorIs(t, err, tickets.ErrSecretKey)
	_, err = tickets.NewSigner(ctx, d, []byte("short"), "x")
	require.Error(t, err)
}

// Local tickets (job tokens) verify only on the control plane, only as their kind, only with the same
// secret key, and are never mistaken for tickets the public keys check (or the other way round).
func TestLocalTicketsVerifyOnlyWithTheSecretKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	key := secret()
	s, err := tickets.NewSigner(ctx, d, key, "x")
	require.NoError(t, err)
	ticket, err := s.SignLocal(tickets.KindJob, "worker-1", "7/1", time.Minute)
	require.NoError(t, err)
	c, err := s.VerifyLocal(ticket, tickets.KindJob, 0)
	require.NoError(t, err)
	require.Equal(t, "worker-1", c.Subject)
	require.Equal(t, "7/1", c.Resource)

	_, err = s.VerifyLocal(ticket, tickets.KindRelay, 0)
	require.ErrorIs(t, err, tickets.ErrInvalid, "another kind")
	_, err = s.VerifyLocal(ticket[:len(ticket)-2]+"AA", tickets.KindJob, 0)
	require.ErrorIs(t, err, tickets.ErrInvalid, "altered")
	replica, err := tickets.NewSigner(ctx, d, key, "http://replica-2.example")
	require.NoError(t, err)
	_, err = replica.VerifyLocal(ticket, tickets.KindJob, 0)
	require.NoError(t, err, "another replica, reached at another URL, takes it")
	other, err := tickets.NewSigner(ctx, dbtest.New(t), secret(), "x")
	require.NoError(t, err)
	_, err = other.VerifyLocal(ticket, tickets.KindJob, 0)
	require.ErrorIs(t, err, tickets.ErrInvalid, "another deployment's secret key")
	set, err := s.KeySet(ctx)
	require.NoError(t, err)
	_, err = set.Verify(ticket, tickets.KindJob)
	require.ErrorIs(t, err, tickets.ErrInvalid, "the public keys do not check local tickets")
	public, err := s.Sign(ctx, tickets.KindJob, "worker-1", "7/1", time.Minute)
	require.NoError(t, err)
	_, err = s.VerifyLocal(public, tickets.KindJob, 0)
	require.ErrorIs(t, err, tickets.ErrInvalid, "nor the secret key public tickets")

	tickets.SetClock(s, func() time.Time { return time.Now().Add(-time.Hour) })
	old, err := s.SignLocal(tickets.KindJob, "worker-1", "7/1", time.Minute)
	require.NoError(t, err)
	tickets.SetClock(s, time.Now)
	_, err = s.VerifyLocal(old, tickets.KindJob, 0)
	require.ErrorIs(t, err, tickets.ErrInvalid, "expired")
	_, err = s.VerifyLocal(old, tickets.KindJob, 2*time.Hour)
	require.NoError(t, err, "expired, but within the grace the caller allows")
	_, err = s.VerifyLocal(old, tickets.KindJob, 30*time.Minute)
	require.ErrorIs(t, err, tickets.ErrInvalid, "expired beyond the grace")
}
