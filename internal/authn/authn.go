// Package authn turns the token on a request into an actor. Validated keys are cached in memory for
// CacheTTL, so the hot path does not query PostgreSQL on every request. A revocation (or a change to
// a user) takes effect at once on the replica that made it, and on the others as soon as they hear
// of it over PostgreSQL's LISTEN/NOTIFY (Watch); CacheTTL bounds it if a notification is lost.
package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/pgnotify"
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
	e, err := a.cached(ctx, id, now)
	if err != nil {
		return authz.Actor{}, err
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

// Check returns the actor of the key with this ID while it still authenticates: not revoked or
// expired, its user not suspended. It is how something issued to a session (an app ticket) is
// held to that session, with the same cache and revocations as Authenticate.
func (a *Authenticator) Check(ctx context.Context, id string) (authz.Actor, error) {
	now := a.now()
	e, err := a.cached(ctx, id, now)
	switch {
	case err != nil:
		return authz.Actor{}, err
	case !now.Before(e.expires):
		return authz.Actor{}, ErrInvalidToken
	case e.suspended:
		return authz.Actor{}, ErrSuspended
	}
	return e.actor, nil
}

// cached is the key's entry, from the cache while it is fresh.
func (a *Authenticator) cached(ctx context.Context, id string, now time.Time) (*entry, error) {
	a.mu.Lock()
	e := a.entries[id]
	a.mu.Unlock()
	if e != nil && now.Sub(e.fetched) <= CacheTTL {
		return e, nil
	}
	return a.load(ctx, id, now)
}

// RevocationChannel carries, to every replica, the keys ("key:ID") and users ("user:UUID") whose
// cached authentication must be dropped.
const RevocationChannel = "hearth_authn"

// Forget drops a key from the cache, here at once and on every watching replica as soon as the
// notification reaches it: call it after the revocation commits.
func (a *Authenticator) Forget(ctx context.Context, id string) {
	a.forgetKey(id)
	a.broadcast(ctx, "key:"+id)
}

// ForgetUser drops every cached key of a user, so a change to the user (suspension, new roles, a new
// password, deletion) takes effect here at once and on the other replicas as soon as they hear.
func (a *Authenticator) ForgetUser(ctx context.Context, id uuid.UUID) {
	a.forgetUser(id)
	a.broadcast(ctx, "user:"+id.String())
}

// Watch makes the authenticator act on other replicas' Forget and ForgetUser, heard on l (a
// listener on RevocationChannel). When notifications may have been missed it drops everything.
func (a *Authenticator) Watch(l *pgnotify.Listener) {
	l.OnEach(func(payload string) {
		kind, id, _ := strings.Cut(payload, ":")
		switch kind {
		case "key":
			a.forgetKey(id)
		case "user":
			if u, err := uuid.Parse(id); err == nil {
				a.forgetUser(u)
			}
		case authz.ChangePayload:
			// A change of someone's rights (the database's triggers): the cache holds none of
			// them but tokens, whose revocations come as key: and user:.
		default:
			a.mu.Lock()
			a.entries = map[string]*entry{}
			a.mu.Unlock()
		}
	})
}

// broadcast tells the other replicas; if it cannot, they still notice within CacheTTL.
func (a *Authenticator) broadcast(ctx context.Context, payload string) {
	_ = pgnotify.Notify(context.WithoutCancel(ctx), a.db.Pool, RevocationChannel, payload)
}

func (a *Authenticator) forgetKey(id string) {
	a.mu.Lock()
	delete(a.entries, id)
	a.mu.Unlock()
}

func (a *Authenticator) forgetUser(id uuid.UUID) {
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
		a.forgetKey(id)
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
		actor:     authz.Actor{UserID: row.User.ID, Username: row.User.Username, Roles: roles, KeyID: id, Scopes: scopes, Groups: row.GroupIds},
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
