package users

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/oauth2"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/tickets"
)

// OIDCConfig configures sign-in with an OpenID Connect provider. An empty IssuerURL turns it off.
type OIDCConfig struct {
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// Scopes requested; openid is always among them.
	Scopes []string
	// AllowedDomains, when not empty, are the only email domains that may sign in.
	AllowedDomains []string
	// UsernameClaim names the claim a new user's username comes from (made to fit the username rules).
	UsernameClaim string
	// EmailClaim names the claim holding the email address.
	EmailClaim string
	// AllowSignUp creates users on their first sign-in; without it, only existing users sign in.
	AllowSignUp bool
	// GroupField names the claim listing the user's groups; empty turns group sync off. At each
	// sign-in the user's OIDC memberships become the groups the claim names (manual ones stay).
	GroupField string
	// GroupMapping renames the claim's values to Hearth group names.
	GroupMapping map[string]string
	// GroupFilter, when set, keeps only the claim's values it matches.
	GroupFilter *regexp.Regexp
	// GroupAutoCreate creates groups the claim names that do not exist; without it they are skipped.
	GroupAutoCreate bool
}

// stateCookie carries the sign-in attempt (state, nonce, PKCE verifier, where to go after) from the
// redirect to the provider back to the callback, signed as a ticket so it cannot be forged.
const stateCookie = "hearth_oidc"

const stateLifetime = 10 * time.Minute

// oidcClient discovers the provider lazily, so a provider that is down at start-up delays only
// OIDC sign-ins, not the server.
type oidcClient struct {
	cfg      OIDCConfig
	callback string

	mu       sync.Mutex
	provider *oidc.Provider
}

func (c *oidcClient) get(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider == nil {
		p, err := oidc.NewProvider(context.WithoutCancel(ctx), c.cfg.IssuerURL)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc: discover %s: %w", c.cfg.IssuerURL, err)
		}
		c.provider = p
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range c.cfg.Scopes {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	return c.provider, &oauth2.Config{
		ClientID: c.cfg.ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: c.provider.Endpoint(),
		RedirectURL: c.callback, Scopes: scopes,
	}, nil
}

func registerOIDC(api huma.API, h handlers) {
	huma.Register(api, huma.Operation{
		OperationID: "get-auth-methods",
		Method:      http.MethodGet,
		Path:        "/api/v2/users/auth-methods",
		Summary:     "How users can sign in",
		Tags:        []string{"Users"},
		Errors:      []int{http.StatusInternalServerError},
	}, h.authMethods)
	huma.Register(api, huma.Operation{
		OperationID:   "oidc-login",
		Method:        http.MethodGet,
		Path:          "/api/v2/users/oidc/login",
		Summary:       "Start signing in with OIDC",
		Description:   "Redirects the browser to the OIDC provider, which sends it back to oidc-callback.",
		Tags:          []string{"Users"},
		DefaultStatus: http.StatusSeeOther,
		Errors:        []int{http.StatusNotFound},
	}, h.oidcLogin)
	huma.Register(api, huma.Operation{
		OperationID:   "oidc-callback",
		Method:        http.MethodGet,
		Path:          "/api/v2/users/oidc/callback",
		Summary:       "Finish signing in with OIDC",
		Description:   "The OIDC provider's redirect target: checks the answer, finds or creates the user, starts a session (cookie) and redirects to where sign-in began.",
		Tags:          []string{"Users"},
		DefaultStatus: http.StatusSeeOther,
		Errors:        []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound},
		Metadata:      map[string]any{"audit": true},
	}, h.oidcCallback)
}

// AuthMethodsOutput says which ways of signing in are on.
type AuthMethodsOutput struct {
	Body struct {
		Password bool `json:"password"`
		OIDC     bool `json:"oidc" doc:"Start at /api/v2/users/oidc/login."`
		// SetupNeeded lets the dashboard offer the first-user set-up.
		SetupNeeded bool `json:"setup_needed" doc:"No user exists yet: create the owner with create-first-user."`
	}
}

func (h handlers) authMethods(ctx context.Context, _ *struct{}) (*AuthMethodsOutput, error) {
	out := &AuthMethodsOutput{}
	out.Body.Password, out.Body.OIDC = true, h.oidc != nil
	n, err := h.DB.CountUsers(ctx)
	if err != nil {
		return nil, err
	}
	out.Body.SetupNeeded = n == 0
	return out, nil
}

type oidcLoginInput struct {
	Redirect string `query:"redirect" maxLength:"1024" doc:"A path on this deployment to return to, like /workspaces; default /."`
}

// RedirectOutput sends the browser elsewhere.
type RedirectOutput struct {
	Location  string        `header:"Location"`
	SetCookie []http.Cookie `header:"Set-Cookie"`
}

func (h handlers) oidcLogin(ctx context.Context, in *oidcLoginInput) (*RedirectOutput, error) {
	if h.oidc == nil {
		return nil, huma.Error404NotFound("OIDC sign-in is not configured on this deployment.")
	}
	_, oc, err := h.oidc.get(ctx)
	if err != nil {
		return nil, huma.Error502BadGateway("The OIDC provider cannot be reached; try again later.", err)
	}
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	carried := url.Values{"n": {nonce}, "v": {verifier}, "r": {localPath(in.Redirect)}}
	ticket, err := h.Tickets.Sign(ctx, tickets.KindOIDCState, state, carried.Encode(), stateLifetime)
	if err != nil {
		return nil, err
	}
	return &RedirectOutput{
		Location:  oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)),
		SetCookie: []http.Cookie{h.cookieNamed(stateCookie, ticket, time.Now().Add(stateLifetime), "/api/v2/users/oidc/")},
	}, nil
}

// localPath keeps redirects on this deployment: a path, never another host.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}

type oidcCallbackInput struct {
	Code        string `query:"code" maxLength:"4096"`
	State       string `query:"state" maxLength:"256"`
	Error       string `query:"error" maxLength:"256"`
	Description string `query:"error_description" maxLength:"1024"`
	Cookie      string `cookie:"hearth_oidc" maxLength:"4096"`
}

func (h handlers) oidcCallback(ctx context.Context, in *oidcCallbackInput) (*RedirectOutput, error) {
	if h.oidc == nil {
		return nil, huma.Error404NotFound("OIDC sign-in is not configured on this deployment.")
	}
	if in.Error != "" {
		return nil, huma.Error403Forbidden("The OIDC provider refused the sign-in: " + in.Error + " " + in.Description)
	}
	keys, err := h.Tickets.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	st, err := keys.Verify(in.Cookie, tickets.KindOIDCState)
	if err != nil || in.State == "" || st.Subject != in.State {
		return nil, huma.Error400BadRequest("The sign-in expired or did not start here; start it again.",
			&huma.ErrorDetail{Location: "query.state", Message: "does not match the sign-in started by this browser"})
	}
	carried, _ := url.ParseQuery(st.Resource) // we encoded it
	provider, oc, err := h.oidc.get(ctx)
	if err != nil {
		return nil, huma.Error502BadGateway("The OIDC provider cannot be reached; try again later.", err)
	}
	tok, err := oc.Exchange(ctx, in.Code, oauth2.VerifierOption(carried.Get("v")))
	if err != nil {
		return nil, huma.Error400BadRequest("The OIDC provider did not accept the sign-in code.",
			&huma.ErrorDetail{Location: "query.code", Message: "refused by the provider"})
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: h.oidc.cfg.ClientID}).Verify(ctx, raw)
	if err != nil || idt.Nonce != carried.Get("n") {
		return nil, huma.Error400BadRequest("The OIDC provider's ID token is invalid.")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, huma.Error400BadRequest("The OIDC provider's ID token is invalid.")
	}
	u, err := h.oidcUser(ctx, idt.Issuer, idt.Subject, claims)
	if err != nil {
		return nil, err
	}
	if u.Status != "active" {
		return nil, huma.Error403Forbidden("The account is suspended.")
	}
	if tok.AccessToken != "" && h.OIDCTokens != nil {
		// For templates that call APIs as the owner (oidc_access_token); the latest sign-in's.
		var expires *time.Time
		if !tok.Expiry.IsZero() {
			expires = &tok.Expiry
		}
		if err := h.DB.UpsertOIDCToken(ctx, dbsqlc.UpsertOIDCTokenParams{UserID: u.ID,
			AccessTokenSealed: h.OIDCTokens.Seal([]byte(tok.AccessToken), u.ID.String()), ExpiresAt: expires}); err != nil {
			return nil, err
		}
	}
	if err := h.syncGroups(ctx, u, claims); err != nil {
		return nil, err
	}
	secret, key, err := h.startSession(ctx, u)
	if err != nil {
		return nil, err
	}
	return &RedirectOutput{
		Location: carried.Get("r"),
		SetCookie: []http.Cookie{
			h.cookie(secret, key.ExpiresAt),
			h.cookieNamed(stateCookie, "", time.Unix(0, 0), "/api/v2/users/oidc/"),
		},
	}, nil
}

// oidcUser finds the user an OIDC identity belongs to: by the identity, else by a verified email
// (linking the two), else a new user when sign-up is on.
func (h handlers) oidcUser(ctx context.Context, issuer, subject string, claims map[string]any) (dbsqlc.User, error) {
	email, _ := claims[h.oidc.cfg.EmailClaim].(string)
	audit.Target(ctx, audit.Resource{Type: "user", Name: email})
	if verified, ok := claims["email_verified"].(bool); email == "" || (ok && !verified) {
		return dbsqlc.User{}, huma.Error403Forbidden("The OIDC provider gave no verified email address.")
	}
	if !domainAllowed(email, h.oidc.cfg.AllowedDomains) {
		return dbsqlc.User{}, huma.Error403Forbidden("Sign-in is not open to " + email[strings.LastIndex(email, "@")+1:] + " addresses.")
	}
	u, err := h.DB.GetUserByOIDC(ctx, dbsqlc.GetUserByOIDCParams{OidcIssuer: &issuer, OidcSubject: &subject})
	if err = db.Translate(err); !errors.Is(err, db.ErrNotFound) {
		return u, err
	}
	var out dbsqlc.User
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		if err := tx.LockUserCreation(ctx); err != nil {
			return err
		}
		existing, err := tx.GetUserByLogin(ctx, email)
		switch err = db.Translate(err); {
		case err == nil:
			out, err = tx.LinkUserOIDC(ctx, dbsqlc.LinkUserOIDCParams{ID: existing.ID, OidcIssuer: &issuer, OidcSubject: &subject})
			if err != nil {
				return err
			}
			audit.Actor(ctx, authz.Actor{UserID: out.ID, Username: out.Username})
			return nil
		case !errors.Is(err, db.ErrNotFound):
			return err
		case !h.oidc.cfg.AllowSignUp:
			return huma.Error403Forbidden("There is no account for " + email + "; ask a user admin to create one.")
		}
		name, _ := claims["name"].(string)
		username, err := freeUsername(ctx, tx, claimString(claims, h.oidc.cfg.UsernameClaim), email)
		if err != nil {
			return err
		}
		out, err = tx.InsertOIDCUser(ctx, dbsqlc.InsertOIDCUserParams{Username: username, Email: email,
			Name: truncate(name, 128), OidcIssuer: &issuer, OidcSubject: &subject})
		if err != nil {
			return err
		}
		audit.Actor(ctx, authz.Actor{UserID: out.ID, Username: out.Username})
		return audit.Record(ctx, tx.Queries, resource(out), audit.Diff(nil, toUser(out)))
	})
	return out, err
}

func claimString(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

func domainAllowed(email string, domains []string) bool {
	if len(domains) == 0 {
		return true
	}
	domain := strings.ToLower(email[strings.LastIndex(email, "@")+1:])
	for _, d := range domains {
		if strings.EqualFold(strings.TrimPrefix(strings.TrimSpace(d), "@"), domain) {
			return true
		}
	}
	return false
}

var notUsername = regexp.MustCompile(`[^a-z0-9-]+`)

// freeUsername makes a claim fit the username rules and, when it is taken, adds a number.
func freeUsername(ctx context.Context, tx db.Tx, claim, email string) (string, error) {
	base := claim
	if base == "" {
		base = email[:strings.LastIndex(email, "@")]
	}
	base = strings.Trim(notUsername.ReplaceAllString(strings.ToLower(base), "-"), "-")
	if base == "" {
		base = "user"
	}
	base = truncate(base, 28)
	for i := 1; i < 100; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		_, err := tx.GetUserByUsername(ctx, name)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return name, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", huma.Error409Conflict("No free username near " + base + "; ask a user admin to create the account.")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
