package users

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/audit"
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
		Path:          "/api/v2/users/{user}/tokens",
		Summary:       "Create an API token",
		Description:   "Creates a token for yourself (user me). The token is in the response only; store it, it cannot be shown again. A scoped token cannot create tokens.",
		Tags:          []string{"Tokens"},
		Security:      h.Security,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict},
	}, h.createToken)
	huma.Register(api, huma.Operation{
		OperationID: "list-tokens",
		Method:      http.MethodGet,
		Path:        "/api/v2/users/{user}/tokens",
		Summary:     "List a user's API tokens",
		Description: "Your own (user me), or anyone's for user admins.",
		Tags:        []string{"Tokens"},
		Security:    h.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.listTokens)
	huma.Register(api, huma.Operation{
		OperationID:   "delete-token",
		Method:        http.MethodDelete,
		Path:          "/api/v2/users/{user}/tokens/{id}",
		Summary:       "Revoke an API token",
		Description:   "Your own (user me), or anyone's for user admins. Takes effect at once on the replica that served the request and within 5 seconds on the others.",
		Tags:          []string{"Tokens"},
		Security:      h.Security,
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.deleteToken)
}

type createTokenInput struct {
	UserPath
	Body struct {
		Name            string   `json:"name" minLength:"1" maxLength:"64" pattern:"^[A-Za-z0-9][A-Za-z0-9._ -]*$" patternDescription:"letters, digits, dot, dash, underscore and space" example:"ci"`
		LifetimeSeconds int64    `json:"lifetime_seconds,omitempty" minimum:"60" maximum:"31536000" doc:"Default 30 days, at most 365 days."`
		Scopes          []string `json:"scopes,omitempty" enum:"all,user:read,workspace:read,workspace:write,template:read,template:write,audit:read" uniqueItems:"true" maxItems:"7" doc:"What the token may do within your roles; default all."`
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
	u, err := h.authorizeOn(ctx, in.User, authz.ManageOwnTokens, authz.ManageAnyTokens)
	if err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	if u.ID != a.UserID {
		return nil, huma.Error403Forbidden("Tokens can be created only for yourself; use user me.")
	}
	lifetime := DefaultTokenLifetime
	if in.Body.LifetimeSeconds > 0 {
		lifetime = time.Duration(in.Body.LifetimeSeconds) * time.Second
	}
	scopes := in.Body.Scopes
	if len(scopes) == 0 {
		scopes = []string{string(authz.ScopeAll)}
	}
	var (
		secret string
		row    dbsqlc.ApiKey
	)
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		secret, row, err = newKey(ctx, tx.Queries, a.UserID, "token", in.Body.Name, lifetime, scopes)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, tokenResource(row), audit.Diff(nil, toToken(row)))
	})
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

func tokenResource(k dbsqlc.ApiKey) audit.Resource {
	return audit.Resource{Type: "token", ID: k.ID, Name: k.Name}
}

// TokensOutput lists tokens.
type TokensOutput struct {
	Body struct {
		Tokens []Token `json:"tokens"`
	}
}

func (h handlers) listTokens(ctx context.Context, in *UserPath) (*TokensOutput, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.ManageOwnTokens, authz.ManageAnyTokens)
	if err != nil {
		return nil, err
	}
	rows, err := h.DB.ListAPIKeysByUser(ctx, dbsqlc.ListAPIKeysByUserParams{UserID: u.ID, Kind: "token"})
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
	UserPath
	ID string `path:"id" maxLength:"64"`
}

func (h handlers) deleteToken(ctx context.Context, in *deleteTokenInput) (*struct{}, error) {
	audit.Target(ctx, audit.Resource{Type: "token", ID: in.ID})
	u, err := h.authorizeOn(ctx, in.User, authz.ManageOwnTokens, authz.ManageAnyTokens)
	if err != nil {
		return nil, err
	}
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		n, err := tx.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: in.ID, UserID: u.ID})
		if err != nil {
			return err
		}
		if n == 0 {
			// Another user's token answers the same as no token, so IDs cannot be probed.
			return huma.Error404NotFound("The user has no token with this ID.")
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "token", ID: in.ID}, nil)
	})
	if err != nil {
		return nil, err
	}
	h.Auth.Forget(ctx, in.ID)
	return nil, nil
}

// newKey stores a fresh session or token for user through q and returns the secret to hand out, once.
func newKey(ctx context.Context, q *dbsqlc.Queries, user uuid.UUID, kind, name string, lifetime time.Duration, scopes []string) (string, dbsqlc.ApiKey, error) {
	k := apikey.New()
	row, err := q.InsertAPIKey(ctx, dbsqlc.InsertAPIKeyParams{
		ID: k.ID, UserID: user, Kind: kind, Name: name, SecretHash: k.SecretHash, Scopes: scopes,
		ExpiresAt: time.Now().Add(lifetime).Truncate(time.Second),
	})
	return k.Token, row, err
}
