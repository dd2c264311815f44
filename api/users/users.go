// Package users serves people and their credentials: first-run set-up, password sign-in and sign-out,
// the current user, and API tokens.
package users

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Deps are what the users resource needs.
type Deps struct {
	DB   *db.DB
	Auth *authn.Authenticator
	// SecureCookies marks the session cookie Secure (the access URL is https).
	SecureCookies bool
	// Security is the requirement attached to authenticated operations.
	Security []map[string][]string
}

// CookieName is the session cookie the dashboard uses.
const CookieName = "hearth_session"

// SessionLifetime is how long a sign-in lasts.
const SessionLifetime = 24 * time.Hour

// User is a user as the API shows it.
type User struct {
	ID        uuid.UUID `json:"id" doc:"The user's ID."`
	Username  string    `json:"username" example:"ada"`
	Email     string    `json:"email" format:"email" example:"ada@example.com"`
	Name      string    `json:"name" example:"Ada Lovelace"`
	Roles     []string  `json:"roles" doc:"Roles beyond member: owner, user-admin, template-admin, auditor."`
	Status    string    `json:"status" enum:"active,suspended"`
	CreatedAt time.Time `json:"created_at"`
}

func toUser(u dbsqlc.User) User {
	return User{ID: u.ID, Username: u.Username, Email: u.Email, Name: u.Name, Roles: u.Roles, Status: u.Status, CreatedAt: u.CreatedAt}
}

// UserOutput is one user.
type UserOutput struct {
	Body User
}

// Register adds the operations.
func Register(api huma.API, d Deps) {
	h := handlers{Deps: d, limiter: newLimiter()}
	huma.Register(api, huma.Operation{
		OperationID:   "create-first-user",
		Method:        http.MethodPost,
		Path:          "/api/v2/users/first",
		Summary:       "Create the first user",
		Description:   "Creates the deployment's owner while no user exists. Answers 409 once any user exists.",
		Tags:          []string{"Users"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusConflict},
	}, h.createFirst)
	huma.Register(api, huma.Operation{
		OperationID: "login",
		Method:      http.MethodPost,
		Path:        "/api/v2/users/login",
		Summary:     "Sign in with a password",
		Description: "Returns a session token and sets it as the " + CookieName + " cookie. Failed attempts are limited per user and per client address.",
		Tags:        []string{"Users"},
		Errors:      []int{http.StatusUnauthorized, http.StatusTooManyRequests},
	}, h.login)
	huma.Register(api, huma.Operation{
		OperationID: "logout",
		Method:      http.MethodPost,
		Path:        "/api/v2/users/logout",
		Summary:     "Sign out",
		Description: "Revokes the session or token that authenticated this request and clears the session cookie.",
		Tags:        []string{"Users"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized},
	}, h.logout)
	huma.Register(api, huma.Operation{
		OperationID: "get-current-user",
		Method:      http.MethodGet,
		Path:        "/api/v2/users/me",
		Summary:     "Get the signed-in user",
		Tags:        []string{"Users"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized},
	}, h.me)
	registerTokens(api, h)
}

type handlers struct {
	Deps
	limiter *limiter
}

type firstUserInput struct {
	Body struct {
		Username string `json:"username" pattern:"^[a-z0-9-]{1,32}$" patternDescription:"1 to 32 lowercase letters, digits or dashes" example:"ada"`
		Email    string `json:"email" format:"email" maxLength:"254" example:"ada@example.com"`
		Name     string `json:"name,omitempty" maxLength:"128" example:"Ada Lovelace"`
		Password string `json:"password" minLength:"8" maxLength:"256" doc:"At least 8 characters."`
	}
}

func (h handlers) createFirst(ctx context.Context, in *firstUserInput) (*UserOutput, error) {
	var created dbsqlc.User
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		if err := tx.LockUserCreation(ctx); err != nil {
			return err
		}
		n, err := tx.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return huma.Error409Conflict("The first user already exists; sign in instead.")
		}
		hash := hashPassword(in.Body.Password)
		created, err = tx.InsertUser(ctx, dbsqlc.InsertUserParams{
			Username: in.Body.Username, Email: in.Body.Email, Name: in.Body.Name,
			PasswordHash: &hash, Roles: []string{string(authz.RoleOwner)},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &UserOutput{Body: toUser(created)}, nil
}

type loginInput struct {
	Body struct {
		Login    string `json:"login" minLength:"1" maxLength:"254" doc:"Username or email." example:"ada"`
		Password string `json:"password" minLength:"1" maxLength:"256"`
	}
	RemoteAddr string `header:"-"`
}

// Resolve records the client address for rate limiting (huma.Resolver).
func (in *loginInput) Resolve(ctx huma.Context) []error {
	in.RemoteAddr = clientIP(ctx.RemoteAddr())
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
	if !h.limiter.allow("ip:"+in.RemoteAddr) || !h.limiter.allow("login:"+in.Body.Login) {
		return nil, huma.Error429TooManyRequests("Too many sign-in attempts; wait a minute and try again.")
	}
	u, err := h.DB.GetUserByLogin(ctx, in.Body.Login)
	if err != nil {
		if err = db.Translate(err); isNotFound(err) {
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
	secret, key, err := h.newKey(ctx, u.ID, "session", "", SessionLifetime)
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
	if _, err := h.DB.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: a.KeyID, UserID: a.UserID}); err != nil {
		return nil, err
	}
	h.Auth.Forget(a.KeyID)
	return &LogoutOutput{SetCookie: h.cookie("", time.Unix(0, 0))}, nil
}

func (h handlers) me(ctx context.Context, _ *struct{}) (*UserOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadSelf); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	u, err := h.DB.GetUserByID(ctx, a.UserID)
	if err != nil {
		return nil, db.Translate(err)
	}
	return &UserOutput{Body: toUser(u)}, nil
}

func (h handlers) cookie(value string, expires time.Time) http.Cookie {
	return http.Cookie{
		Name: CookieName, Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode,
	}
}
