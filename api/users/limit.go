package users

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hearthdev/hearth/internal/password"
)

// Sign-in attempts: a burst of 10, then one every 6 seconds, per client address and per login name.
const (
	attemptBurst = 10
	attemptEvery = 6 * time.Second
	maxTracked   = 50_000
)

// limiter keeps a token bucket per key, in this replica's memory.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newLimiter() *limiter { return &limiter{buckets: map[string]*rate.Limiter{}} }

func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxTracked {
			l.buckets = map[string]*rate.Limiter{}
		}
		b = rate.NewLimiter(rate.Every(attemptEvery), attemptBurst)
		l.buckets[key] = b
	}
	return b.Allow()
}

func hashPassword(pw string) string { return password.Hash(pw) }

func checkPassword(hash, pw string) bool {
	ok, err := password.Check(hash, pw)
	return err == nil && ok
}

func checkNoPassword(pw string) { password.CheckNothing(pw) }
