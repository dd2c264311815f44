package users

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Token lifetimes.
const (
	DefaultTokenLifetime = 30 * 24 * time.Hour
	MaxTokenLifetime     = 365 * 24 * time.Hour
)

// Token is an API token as listed; its secret is shown only once, when it is created.
type Token struct {
	ID         string     `json:"id" example:"k3v9q2xa"`
	Name       string     `json:"name" example:"ci"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty" doc:"Updated at most once a minute."`
}

func toToken(k dbsqlc.ApiKey) Token {
	return Token{ID: k.ID, Name: k.Name, Scopes: k.Scopes, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt}
}

func registerTokens(api huma.API, h handlers) {
	huma.Register(api, huma.Operation{
		OperationID:   "create-token",
		Method:        http.MethodPost,
		Path:          "/api/v2/users/me/tokens",
		Summary:       "Create an API token",
		Description:   "The token is in the response only; store it, it cannot be shown again.",
		Tags:          []string{"Tokens"},
		Security:      h.Security,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusConflict},
	}, h.createToken)
	huma.Register(api, huma.Operation{
		OperationID: "list-tokens",
		Method:      http.MethodGet,
		Path:        "/api/v2/users/me/tokens",
		Summary:     "List your API tokens",
		Tags:        []string{"Tokens"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized},
	}, h.listTokens)
	huma.Register(api, huma.Operation{
		OperationID:   "delete-token",
		Method:        http.MethodDelete,
		Path:          "/api/v2/users/me/tokens/{id}",
		Summary:       "Revoke one of your API tokens",
		Description:   "Takes effect at once on the replica that served the request and within a few seconds on the others.",
		Tags:          []string{"Tokens"},
		Security:      h.Security,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.deleteToken)
}

type createTokenInput struct {
	Body struct {
		Name            string   `json:"name" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9][A-Za-z0-9._ -]*$" patternDescription:"letters, digits, dot, dash, underscore and space" example:"ci"`
		LifetimeSeconds int64    `json:"lifetime_seconds,omitempty" minimum:"60" maximum:"31536000" doc:"Default 30 days, at most 365 days."`
		Scopes          []string `json:"scopes,omitempty" enum:"all" doc:"What the token may do; only all exists so far."`
	}
}

// CreatedTokenOutput carries the new token's secret, once.
type CreatedTokenOutput struct {
	Body struct {
		Token
		Secret string `json:"token" doc:"The token to send as Authorization: Bearer. Shown only now."`
	}
}

func (h handlers) createToken(ctx context.Context, in *createTokenInput) (*CreatedTokenOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageOwnTokens); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	lifetime := DefaultTokenLifetime
	if in.Body.LifetimeSeconds > 0 {
		lifetime = time.Duration(in.Body.LifetimeSeconds) * time.Second
	}
	secret, row, err := h.newKey(ctx, a.UserID, "token", in.Body.Name, lifetime)
	if db.IsUniqueViolation(err, "api_keys_user_token_name") {
		return nil, huma.Error409Conflict("You already have a token with this name.",
			&huma.ErrorDetail{Location: "body.name", Message: "already in use", Value: in.Body.Name})
	}
	if err != nil {
		return nil, err
	}
	out := &CreatedTokenOutput{}
	out.Body.Token, out.Body.Secret = toToken(row), secret
	return out, nil
}

// TokensOutput lists tokens.
type TokensOutput struct {
	Body struct {
		Tokens []Token `json:"tokens"`
	}
}

func (h handlers) listTokens(ctx context.Context, _ *struct{}) (*TokensOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageOwnTokens); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	rows, err := h.DB.ListAPIKeysByUser(ctx, dbsqlc.ListAPIKeysByUserParams{UserID: a.UserID, Kind: "token"})
	if err != nil {
		return nil, err
	}
	out := &TokensOutput{}
	out.Body.Tokens = make([]Token, 0, len(rows))
	for _, r := range rows {
		out.Body.Tokens = append(out.Body.Tokens, toToken(r))
	}
	return out, nil
}

type deleteTokenInput struct {
	ID string `path:"id" maxLength:"64"`
}

func (h handlers) deleteToken(ctx context.Context, in *deleteTokenInput) (*struct{}, error) {
	if err := authz.Authorize(ctx, authz.ManageOwnTokens); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	n, err := h.DB.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: in.ID, UserID: a.UserID})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		// Another user's token answers the same as no token, so IDs cannot be probed.
		return nil, huma.Error404NotFound("You have no token with this ID.")
	}
	h.Auth.Forget(in.ID)
	return nil, nil
}

// newKey stores a fresh session or token for user and returns the secret to hand out, once.
func (h handlers) newKey(ctx context.Context, user uuid.UUID, kind, name string, lifetime time.Duration) (string, dbsqlc.ApiKey, error) {
	k := apikey.New()
	row, err := h.DB.InsertAPIKey(ctx, dbsqlc.InsertAPIKeyParams{
		ID: k.ID, UserID: user, Kind: kind, Name: name, SecretHash: k.SecretHash, Scopes: []string{"all"},
		ExpiresAt: time.Now().Add(lifetime).Truncate(time.Second),
	})
	return k.Token, row, err
}

func isNotFound(err error) bool { return errors.Is(err, db.ErrNotFound) }
