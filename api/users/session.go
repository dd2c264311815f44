package users

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

type loginInput struct {
	Body struct {
		Login    string `json:"login" minLength:"1" maxLength:"254" doc:"Username or email." example:"ada"`
		Password string `json:"password" minLength:"1" maxLength:"256"`
	}
	RemoteAddr string // set by Resolve, not a parameter
}

// Resolve records the client address for rate limiting (huma.Resolver).
func (in *loginInput) Resolve(ctx huma.Context) []error {
	in.RemoteAddr = audit.ClientIP(ctx.RemoteAddr())
	return nil
}

// SessionOutput is a new session.
type SessionOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
	Body      struct {
		SessionToken string    `json:"session_token" doc:"Send as Authorization: Bearer, as the Hearth-Session-Token header, or rely on the cookie."`
		ExpiresAt    time.Time `json:"expires_at"`
		User         User      `json:"user"`
	}
}

// wrongCredentials is built per request: errors made at package initialization would predate the
// API's error type (huma.NewError is replaced in the api package's init).
func wrongCredentials() error { return huma.Error401Unauthorized("Wrong username or password.") }

func (h handlers) login(ctx context.Context, in *loginInput) (*SessionOutput, error) {
	for _, key := range []string{"ip:" + in.RemoteAddr, "login:" + in.Body.Login} {
		ok, err := h.limiter.allow(ctx, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, huma.Error429TooManyRequests("Too many sign-in attempts; wait a minute and try again.")
		}
	}
	audit.Target(ctx, audit.Resource{Type: "user", Name: in.Body.Login})
	u, err := h.DB.GetUserByLogin(ctx, in.Body.Login)
	if err != nil {
		if err = db.Translate(err); errors.Is(err, db.ErrNotFound) {
			checkNoPassword(in.Body.Password) // answer as slowly as for a known user
			return nil, wrongCredentials()
		}
		return nil, err
	}
	if u.PasswordHash == nil || !checkPassword(*u.PasswordHash, in.Body.Password) {
		return nil, wrongCredentials()
	}
	if u.Status != "active" {
		return nil, huma.Error401Unauthorized("The account is suspended.")
	}
	secret, key, err := h.startSession(ctx, u)
	if err != nil {
		return nil, err
	}
	out := &SessionOutput{SetCookie: h.cookie(secret, key.ExpiresAt)}
	out.Body.SessionToken, out.Body.ExpiresAt, out.Body.User = secret, key.ExpiresAt, toUser(u)
	return out, nil
}

// LogoutOutput clears the session cookie.
type LogoutOutput struct {
	SetCookie http.Cookie `header:"Set-Cookie"`
}

func (h handlers) logout(ctx context.Context, _ *struct{}) (*LogoutOutput, error) {
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		if _, err := tx.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: a.KeyID, UserID: a.UserID}); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "user", ID: a.UserID.String(), Name: a.Username}, nil)
	})
	if err != nil {
		return nil, err
	}
	h.Auth.Forget(ctx, a.KeyID)
	return &LogoutOutput{SetCookie: h.cookie("", time.Unix(0, 0))}, nil
}

func (h handlers) cookie(value string, expires time.Time) http.Cookie {
	return h.cookieNamed(CookieName, value, expires, "/")
}

// cookieNamed makes a cookie no script can read, sent on top-level navigation from other sites
// (SameSite=Lax, so links into the dashboard work) but not on their subrequests.
func (h handlers) cookieNamed(name, value string, expires time.Time, path string) http.Cookie {
	return http.Cookie{
		Name: name, Value: value, Path: path, Expires: expires,
		HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode,
	}
}

// startSession signs u in: a new session, recorded in the audit log as the user's own act.
func (h handlers) startSession(ctx context.Context, u dbsqlc.User) (string, dbsqlc.ApiKey, error) {
	var (
		secret string
		key    dbsqlc.ApiKey
	)
	audit.Actor(ctx, authz.Actor{UserID: u.ID, Username: u.Username})
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		var err error
		secret, key, err = newKey(ctx, tx.Queries, u.ID, "session", "", SessionLifetime, []string{string(authz.ScopeAll)})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, resource(u), nil)
	})
	return secret, key, err
}
