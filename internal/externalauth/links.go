package externalauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/seal"
)

// Links keeps users' links to the providers: their tokens, sealed, refreshed when due.
type Links struct {
	db        *db.DB
	box       *seal.Box
	log       *slog.Logger
	providers []*Provider
	byID      map[string]*Provider
}

// NewLinks serves the given providers' links; box seals their tokens.
func NewLinks(database *db.DB, box *seal.Box, providers []*Provider, log *slog.Logger) *Links {
	l := &Links{db: database, box: box, log: log, providers: providers, byID: map[string]*Provider{}}
	for _, p := range providers {
		l.byID[p.ID] = p
	}
	return l
}

// Providers are the configured providers, in configuration order.
func (l *Links) Providers() []*Provider {
	if l == nil {
		return nil
	}
	return l.providers
}

// Provider finds a provider by ID.
func (l *Links) Provider(id string) (*Provider, bool) {
	if l == nil {
		return nil, false
	}
	p, ok := l.byID[id]
	return p, ok
}

// ErrNotLinked means the user has no link to the provider.
var ErrNotLinked = errors.New("not linked")

// ErrRelink means the link stopped working (its refresh token was refused or it expired with none):
// it is gone, and the user must link again.
var ErrRelink = errors.New("the link stopped working")

// Link is a user's link to a provider, without its tokens.
type Link struct {
	ProviderID string
	Expiry     *time.Time
	Created    time.Time
	Updated    time.Time
}

// Token is a usable access token.
type Token struct {
	AccessToken string
	Expiry      *time.Time
}

func sealContext(user uuid.UUID, provider, which string) string {
	return user.String() + "/" + provider + "/" + which
}

// Store keeps a grant as the user's link to p, replacing any earlier one.
func (l *Links) Store(ctx context.Context, q *dbsqlc.Queries, user uuid.UUID, p *Provider, g Grant) error {
	var refresh []byte
	if g.RefreshToken != "" {
		refresh = l.box.Seal([]byte(g.RefreshToken), sealContext(user, p.ID, "refresh"))
	}
	var exp *time.Time
	if !g.Expiry.IsZero() {
		e := g.Expiry.Truncate(time.Millisecond)
		exp = &e
	}
	return q.UpsertExternalAuthLink(ctx, dbsqlc.UpsertExternalAuthLinkParams{UserID: user, ProviderID: p.ID,
		AccessTokenSealed: l.box.Seal([]byte(g.AccessToken), sealContext(user, p.ID, "access")), RefreshTokenSealed: refresh, ExpiresAt: exp})
}

// List is the user's links, by provider ID.
func (l *Links) List(ctx context.Context, user uuid.UUID) (map[string]Link, error) {
	rows, err := l.db.ListExternalAuthLinks(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Link, len(rows))
	for _, r := range rows {
		out[r.ProviderID] = Link{ProviderID: r.ProviderID, Expiry: r.ExpiresAt, Created: r.CreatedAt, Updated: r.UpdatedAt}
	}
	return out, nil
}

// due reports whether a token should be refreshed now: within a tenth of its lifetime (at most a
// minute) of its expiry.
func due(r dbsqlc.ExternalAuthLink, now time.Time) bool {
	if r.ExpiresAt == nil {
		return false
	}
	margin := min(time.Minute, r.ExpiresAt.Sub(r.UpdatedAt)/10)
	return !now.Before(r.ExpiresAt.Add(-margin))
}

// Token is the user's access token for the provider, refreshed first when it is due. A refresh the
// provider refuses (invalid_grant: revoked or expired) removes the link and answers ErrRelink; a
// provider that cannot be reached answers a *ProviderError and keeps the link.
func (l *Links) Token(ctx context.Context, user uuid.UUID, providerID string) (Token, error) {
	p, ok := l.Provider(providerID)
	if !ok {
		return Token{}, fmt.Errorf("%w: no provider %q", ErrNotLinked, providerID)
	}
	r, err := l.db.GetExternalAuthLink(ctx, dbsqlc.GetExternalAuthLinkParams{UserID: user, ProviderID: p.ID})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return Token{}, ErrNotLinked
	} else if err != nil {
		return Token{}, err
	}
	if !due(r, time.Now()) {
		return l.open(r)
	}
	var out Token
	relink := false // the link was removed (committed), and the user must link again
	err = l.db.InTx(ctx, func(tx db.Tx) error {
		r, err := tx.LockExternalAuthLink(ctx, dbsqlc.LockExternalAuthLinkParams{UserID: user, ProviderID: p.ID})
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return ErrNotLinked
		} else if err != nil {
			return err
		}
		if !due(r, time.Now()) { // another request refreshed it while this one waited
			out, err = l.open(r)
			return err
		}
		if r.RefreshTokenSealed == nil {
			relink = true
			_, err := tx.DeleteExternalAuthLink(ctx, dbsqlc.DeleteExternalAuthLinkParams{UserID: user, ProviderID: p.ID})
			return err
		}
		refresh, err := l.box.Open(r.RefreshTokenSealed, sealContext(user, p.ID, "refresh"))
		if err != nil {
			return err
		}
		g, err := p.Refresh(ctx, string(refresh))
		var pe *ProviderError
		if errors.As(err, &pe) && (pe.Code == "invalid_grant" || pe.Code == "unauthorized_client") {
			l.log.WarnContext(ctx, "external auth: the provider refused to refresh a link; it is removed, and the user must link again",
				"provider", p.ID, "user", user, "error", pe.Code)
			relink = true
			_, err := tx.DeleteExternalAuthLink(ctx, dbsqlc.DeleteExternalAuthLinkParams{UserID: user, ProviderID: p.ID})
			return err
		} else if err != nil {
			return err
		}
		if err := l.Store(ctx, tx.Queries, user, p, g); err != nil {
			return err
		}
		out.AccessToken = g.AccessToken
		if !g.Expiry.IsZero() {
			out.Expiry = &g.Expiry
		}
		return nil
	})
	if err != nil {
		return Token{}, err
	}
	if relink {
		return Token{}, ErrRelink
	}
	return out, nil
}

func (l *Links) open(r dbsqlc.ExternalAuthLink) (Token, error) {
	plain, err := l.box.Open(r.AccessTokenSealed, sealContext(r.UserID, r.ProviderID, "access"))
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: string(plain), Expiry: r.ExpiresAt}, nil
}

// Unlink removes the user's link to the provider and revokes its tokens at the provider. The link
// is gone even when the revocation fails (revokeErr says so); found is false when there was none.
func (l *Links) Unlink(ctx context.Context, user uuid.UUID, providerID string) (found bool, revokeErr error, err error) {
	var tokens [][]byte
	var p *Provider
	err = l.db.InTx(ctx, func(tx db.Tx) error {
		r, err := tx.LockExternalAuthLink(ctx, dbsqlc.LockExternalAuthLinkParams{UserID: user, ProviderID: providerID})
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		found = true
		if p = l.byID[providerID]; p != nil {
			if t, err := l.box.Open(r.AccessTokenSealed, sealContext(user, providerID, "access")); err == nil {
				tokens = append(tokens, t)
			}
			if r.RefreshTokenSealed != nil {
				if t, err := l.box.Open(r.RefreshTokenSealed, sealContext(user, providerID, "refresh")); err == nil {
					tokens = append(tokens, t)
				}
			}
		}
		_, err = tx.DeleteExternalAuthLink(ctx, dbsqlc.DeleteExternalAuthLinkParams{UserID: user, ProviderID: providerID})
		return err
	})
	if err != nil || p == nil {
		return found, nil, err
	}
	for _, t := range tokens {
		if e := p.Revoke(ctx, string(t)); e != nil && revokeErr == nil {
			revokeErr = e
		}
		if p.Type == "github" {
			break // one grant deletion ends the whole authorization
		}
	}
	if revokeErr != nil {
		l.log.WarnContext(ctx, "external auth: revoking an unlinked account's token at the provider failed", "provider", providerID, "user", user, "error", revokeErr)
	}
	return found, revokeErr, nil
}

// Revoker reads a user's tokens before the user (and with them the links) is deleted; calling the
// result revokes them at their providers, logging failures.
func (l *Links) Revoker(ctx context.Context, user uuid.UUID) (func(context.Context), error) {
	if l == nil {
		return func(context.Context) {}, nil
	}
	rows, err := l.db.ListExternalAuthLinks(ctx, user)
	if err != nil {
		return nil, err
	}
	type pending struct {
		p     *Provider
		token string
	}
	var todo []pending
	for _, r := range rows {
		p := l.byID[r.ProviderID]
		if p == nil {
			continue
		}
		if t, err := l.box.Open(r.AccessTokenSealed, sealContext(user, p.ID, "access")); err == nil {
			todo = append(todo, pending{p, string(t)})
		}
		if r.RefreshTokenSealed != nil && p.Type != "github" {
			if t, err := l.box.Open(r.RefreshTokenSealed, sealContext(user, p.ID, "refresh")); err == nil {
				todo = append(todo, pending{p, string(t)})
			}
		}
	}
	return func(ctx context.Context) {
		for _, t := range todo {
			if err := t.p.Revoke(ctx, t.token); err != nil {
				l.log.WarnContext(ctx, "external auth: revoking a deleted user's token at the provider failed", "provider", t.p.ID, "user", user, "error", err)
			}
		}
	}, nil
}
