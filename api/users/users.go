// Package users serves people and their credentials: first-run set-up, password sign-in and sign-out,
// user administration, and API tokens.
package users

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/seal"
	"github.com/hearthdev/hearth/internal/tickets"
)

// Deps are what the users resource needs.
type Deps struct {
	DB     *db.DB
	Logger *slog.Logger
	Auth   *authn.Authenticator
	// SecureCookies marks the session cookie Secure (the access URL is https).
	SecureCookies bool
	// Security is the requirement attached to authenticated operations.
	Security []map[string][]string
	// Tickets signs the OIDC sign-in state.
	Tickets *tickets.Signer
	// AccessURL is where browsers reach this deployment; the OIDC callback is under it.
	AccessURL string
	// OIDC, when set, turns on OIDC sign-in.
	OIDC *OIDCConfig
	// GitSSHKeys seals users' Git SSH private keys; OIDCTokens their OIDC access tokens.
	GitSSHKeys *seal.Box
	OIDCTokens *seal.Box
	// ExternalAuth revokes a deleted user's external auth tokens.
	ExternalAuth *externalauth.Links
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
	// LoginTypes say how the user can sign in.
	LoginTypes []string `json:"login_types" enum:"password,oidc" doc:"How the user can sign in."`
	// QuietHoursSchedule is when the user's day ends.
	QuietHoursSchedule string `json:"quiet_hours_schedule" doc:"A cron schedule (CRON_TZ= for the time zone) at whose times templates that require a stop stop this user's workspaces; empty is midnight UTC." example:"CRON_TZ=Europe/Berlin 0 22 * * *"`
}

func toUser(u dbsqlc.User) User {
	out := User{ID: u.ID, Username: u.Username, Email: u.Email, Name: u.Name, Roles: u.Roles, Status: u.Status,
		CreatedAt: u.CreatedAt, LoginTypes: []string{}, QuietHoursSchedule: u.QuietHoursSchedule}
	if u.PasswordHash != nil {
		out.LoginTypes = append(out.LoginTypes, "password")
	}
	if u.OidcSubject != nil {
		out.LoginTypes = append(out.LoginTypes, "oidc")
	}
	return out
}

// resource names a user in the audit log.
func resource(u dbsqlc.User) audit.Resource {
	return audit.Resource{Type: "user", ID: u.ID.String(), Name: u.Username}
}

// UserOutput is one user.
type UserOutput struct {
	Body User
}

// Register adds the operations.
func Register(api huma.API, d Deps) {
	h := handlers{Deps: d, limiter: limiter{db: d.DB}}
	if d.OIDC != nil && d.OIDC.IssuerURL != "" {
		h.oidc = &oidcClient{cfg: *d.OIDC, callback: strings.TrimSuffix(d.AccessURL, "/") + "/api/v2/users/oidc/callback"}
	}
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
	registerOIDC(api, h)
	registerAdmin(api, h)
	registerTokens(api, h)
	registerGitSSHKey(api, h)
}

type handlers struct {
	Deps
	limiter limiter
	oidc    *oidcClient // nil when OIDC sign-in is off
}

type firstUserInput struct {
	Body struct {
		Username string `json:"username" pattern:"^[a-z0-9-]{1,32}$" patternDescription:"1 to 32 lowercase letters, digits or dashes" example:"ada"`
		Email    string `json:"email" format:"email" maxLength:"254" example:"ada@example.com"`
		Name     string `json:"name,omitempty" maxLength:"128" example:"Ada Lovelace"`
		Password string `json:"password" minLength:"8" maxLength:"256" doc:"At least 8 characters."`
	}
}

// conflict translates a unique violation on users into a 409 naming the field at fault.
func conflict(err error, username, email string) error {
	switch {
	case db.IsUniqueViolation(err, "users_username_key"):
		return huma.Error409Conflict("The username is taken.",
			&huma.ErrorDetail{Location: "body.username", Message: "already in use", Value: username})
	case db.IsUniqueViolation(err, "users_email_key"):
		return huma.Error409Conflict("The email address belongs to another user.",
			&huma.ErrorDetail{Location: "body.email", Message: "already in use", Value: email})
	}
	return err
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
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, resource(created), audit.Diff(nil, toUser(created)))
	})
	if err != nil {
		return nil, conflict(err, in.Body.Username, in.Body.Email)
	}
	return &UserOutput{Body: toUser(created)}, nil
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
