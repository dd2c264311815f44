package authz

import (
	"sync/atomic"
	"time"
)

// ChangePayload is what the database's triggers send on the revocation channel (authn's) when a
// change that can take away someone's right to reach a workspace commits: a token deleted, a user
// suspended, a share withdrawn, ….
const ChangePayload = "authz"

const (
	// RecheckInterval is how often a long-lived connection's authority is checked again when no
	// change was announced: a token that reached its expiry, a notification lost while a replica's
	// listener reconnected.
	RecheckInterval = 30 * time.Second
	// changeSettle is how long after an announced change connections keep being checked: the
	// announcement can overtake the invalidation of a replica's token cache.
	changeSettle = 2 * time.Second
)

// Changes tells long-lived connections (tailnet coordinations, relayed streams) when to check their
// caller's authority again: after an announced change, and every RecheckInterval.
type Changes struct{ at atomic.Int64 }

// Announce records a change now (a ChangePayload or any revocation, or a listener that reconnected
// and may have missed some).
func (c *Changes) Announce() { c.at.Store(time.Now().UnixNano()) }

// Due reports whether a connection whose authority was last checked at last must be checked again
// at now. Without Changes (nil) it always is.
func (c *Changes) Due(last, now time.Time) bool {
	if c == nil || now.Sub(last) >= RecheckInterval {
		return true
	}
	return c.at.Load() >= last.Add(-changeSettle).UnixNano()
}
