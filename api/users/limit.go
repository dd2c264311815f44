package users

import (
	"context"
	"time"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/password"
)

// Sign-in attempts: a burst of 10, then one every 6 seconds, per client address and per login name,
// counted in PostgreSQL so that the budget is the deployment's, however many replicas serve it.
const (
	attemptBurst = 10
	attemptEvery = 6 * time.Second
)

// limiter takes sign-in attempts from the deployment-wide buckets.
type limiter struct{ db *db.DB }

func (l limiter) allow(ctx context.Context, key string) (bool, error) {
	return l.db.TakeSigninAttempt(ctx, dbsqlc.TakeSigninAttemptParams{Key: key, Burst: attemptBurst, EverySeconds: attemptEvery.Seconds()})
}

func hashPassword(pw string) string { return password.Hash(pw) }

func checkPassword(hash, pw string) bool {
	ok, err := password.Check(hash, pw)
	return err == nil && ok
}

func checkNoPassword(pw string) { password.CheckNothing(pw) }
