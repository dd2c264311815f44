// Package authn turns the token on a request into an actor. Validated keys are cached in memory for
// CacheTTL, so the hot path does not query PostgreSQL on every request; a revoked key therefore stops
// working within CacheTTL on other replicas, and at once on the replica that revoked it.
package authn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
)

// CacheTTL bounds how long a revoked key can still authenticate on a replica that did not revoke it.
const CacheTTL = 5 * time.Second

// touchEvery is how often a key's last-used time is written at most.
const touchEvery = time.Minute

// maxEntries bounds the cache; past it the cache starts over.
const maxEntries = 100_000

// Errors, each a 401.
var (
	ErrInvalidToken = errors.New("the token is invalid, expired or revoked")
	ErrSuspended    = errors.New("the account is suspended")
)

// Authenticator checks tokens against the database through a short-lived cache.
type Authenticator struct {
	db  *db.DB
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	hash      []byte
	actor     authz.Actor
	suspended bool
	expires   time.Time // the key's own expiry
	fetched   time.Time
	touched   time.Time
}

// New returns an authenticator on d.
func New(d *db.DB) *Authenticator {
	return &Authenticator{db: d, now: time.Now, entries: map[string]*entry{}}
}

// Authenticate returns the actor a token stands for.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (authz.Actor, error) {
	id, hash, err := apikey.Parse(token)
	if err != nil {
		return authz.Actor{}, ErrInvalidToken
	}
	now := a.now()
	a.mu.Lock()
	e := a.entries[id]
	a.mu.Unlock()
	if e == nil || now.Sub(e.fetched) > CacheTTL {
		if e, err = a.load(ctx, id, now); err != nil {
			return authz.Actor{}, err
		}
	}
	if !apikey.Equal(e.hash, hash) || !now.Before(e.expires) {
		return authz.Actor{}, ErrInvalidToken
	}
	if e.suspended {
		return authz.Actor{}, ErrSuspended
	}
	if now.Sub(e.touched) > touchEvery {
		a.mu.Lock()
		e.touched = now
		a.mu.Unlock()
		if err := a.db.TouchAPIKey(ctx, id); err != nil {
			return authz.Actor{}, fmt.Errorf("authn: record use: %w", err)
		}
	}
	return e.actor, nil
}

// Forget drops a key from this replica's cache, so its revocation takes effect here at once.
func (a *Authenticator) Forget(id string) {
	a.mu.Lock()
	delete(a.entries, id)
	a.mu.Unlock()
}

// ForgetUser drops every cached key of a user, so a change to the user (suspension, new roles, a new
// password) takes effect here at once; other replicas see it within CacheTTL.
func (a *Authenticator) ForgetUser(id uuid.UUID) {
	a.mu.Lock()
	for k, e := range a.entries {
		if e.actor.UserID == id {
			delete(a.entries, k)
		}
	}
	a.mu.Unlock()
}

func (a *Authenticator) load(ctx context.Context, id string, now time.Time) (*entry, error) {
	row, err := a.db.GetAPIKeyWithUser(ctx, id)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		a.Forget(id)
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	roles := make([]authz.Role, 0, len(row.User.Roles))
	for _, r := range row.User.Roles {
		roles = append(roles, authz.Role(r))
	}
	scopes := make([]authz.Scope, 0, len(row.ApiKey.Scopes))
	for _, s := range row.ApiKey.Scopes {
		scopes = append(scopes, authz.Scope(s))
	}
	e := &entry{
		hash:      row.ApiKey.SecretHash,
		actor:     authz.Actor{UserID: row.User.ID, Username: row.User.Username, Roles: roles, KeyID: id, Scopes: scopes},
		suspended: row.User.Status == "suspended",
		expires:   row.ApiKey.ExpiresAt,
		fetched:   now,
	}
	if row.ApiKey.LastUsedAt != nil {
		e.touched = *row.ApiKey.LastUsedAt
	}
	a.mu.Lock()
	if len(a.entries) >= maxEntries {
		a.entries = map[string]*entry{}
	}
	a.entries[id] = e
	a.mu.Unlock()
	return e, nil
}
