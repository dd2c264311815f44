// Package externalauth is the external auth resource: the providers a deployment offers, each
// user's links to them (made in the browser with the authorization-code flow, or from the CLI with
// the device flow) and unlinking. What a workspace's agent asks for lives with the agents.
package externalauth

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/tickets"
)

// Deps are what the resource needs.
type Deps struct {
	DB            *db.DB
	Links         *externalauth.Links
	Tickets       *tickets.Signer
	Security      []map[string][]string
	AccessURL     string
	SecureCookies bool
}

type handlers struct{ Deps }

// stateCookie carries a link in progress (state, PKCE verifier, user, where to return) from the
// redirect to the provider back to the callback, signed as a ticket.
const stateCookie = "hearth_link"

const stateLifetime = 10 * time.Minute

// Register adds the resource's operations.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	op := func(id, method, path, summary, desc string, status int, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{"External auth"}, Security: d.Security, DefaultStatus: status,
			Errors: append([]int{http.StatusUnauthorized, http.StatusNotFound}, errs...)}
	}
	huma.Register(api, op("list-external-auth", http.MethodGet, "/api/v2/external-auth", "List external auth providers",
		"The deployment's providers, each with whether the signed-in user has linked an account.", http.StatusOK), h.list)
	huma.Register(api, op("get-external-auth", http.MethodGet, "/api/v2/external-auth/{provider}", "Get an external auth provider",
		"One provider and the signed-in user's link to it.", http.StatusOK), h.get)
	login := op("external-auth-login", http.MethodGet, "/api/v2/external-auth/{provider}/login", "Start linking an account in the browser",
		"Redirects the browser to the provider, which sends it back to external-auth-callback.", http.StatusSeeOther, http.StatusBadGateway)
	huma.Register(api, login, h.login)
	callback := op("external-auth-callback", http.MethodGet, "/api/v2/external-auth/{provider}/callback", "Finish linking an account",
		"The provider's redirect target (register ACCESS_URL/api/v2/external-auth/ID/callback with the OAuth app): checks the answer against the link started by this browser, redeems the code and stores the tokens, sealed; then redirects to where linking began.",
		http.StatusSeeOther, http.StatusBadRequest, http.StatusBadGateway)
	callback.Security = nil // the signed state cookie says who started it
	callback.Metadata = map[string]any{"audit": true}
	huma.Register(api, callback, h.callback)
	huma.Register(api, op("start-external-auth-device", http.MethodPost, "/api/v2/external-auth/{provider}/device", "Start linking with a device code",
		"For providers with the device flow: a code for the user to enter at the provider's verification page; then poll finish-external-auth-device.",
		http.StatusOK, http.StatusBadRequest, http.StatusBadGateway), h.startDevice)
	huma.Register(api, op("finish-external-auth-device", http.MethodPost, "/api/v2/external-auth/{provider}/device/token", "Finish linking with a device code",
		"Asks the provider once whether the user approved: 201 and linked, or 202 while it waits (ask again after the code's interval).",
		http.StatusCreated, http.StatusBadRequest, http.StatusBadGateway), h.finishDevice)
	huma.Register(api, op("unlink-external-auth", http.MethodDelete, "/api/v2/external-auth/{provider}", "Unlink an account",
		"Removes the signed-in user's link and revokes its tokens at the provider (where the provider offers that).", http.StatusOK), h.unlink)
}

// Provider is a provider as users see it, with their link.
type Provider struct {
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	DisplayName string     `json:"display_name"`
	DeviceFlow  bool       `json:"device_flow" doc:"Accounts can be linked with a device code (the CLI's way)."`
	Regex       string     `json:"regex,omitempty" doc:"The Git URLs its tokens are offered for inside workspaces."`
	Linked      bool       `json:"linked"`
	LinkedAt    *time.Time `json:"linked_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty" doc:"When the current access token expires (it is refreshed before then, where the provider allows)."`
	LinkURL     string     `json:"link_url" doc:"Open in a signed-in browser to link an account."`
}

func (h handlers) provider(p *externalauth.Provider, links map[string]externalauth.Link) Provider {
	out := Provider{ID: p.ID, Type: p.Type, DisplayName: p.DisplayName, DeviceFlow: p.DeviceFlow, LinkURL: LinkURL(h.AccessURL, p.ID)}
	if p.Regex != nil {
		out.Regex = p.Regex.String()
	}
	if l, ok := links[p.ID]; ok {
		out.Linked, out.LinkedAt, out.ExpiresAt = true, &l.Created, l.Expiry
	}
	return out
}

// LinkURL is the dashboard page where a user links an account at provider.
func LinkURL(accessURL, provider string) string {
	return strings.TrimSuffix(accessURL, "/") + "/external-auth/" + url.PathEscape(provider)
}

type providersOutput struct {
	Body struct {
		Providers []Provider `json:"providers"`
	}
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*providersOutput, error) {
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	links, err := h.Links.List(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	out := &providersOutput{}
	out.Body.Providers = []Provider{}
	for _, p := range h.Links.Providers() {
		out.Body.Providers = append(out.Body.Providers, h.provider(p, links))
	}
	return out, nil
}

type ProviderPath struct {
	Provider string `path:"provider" maxLength:"64" doc:"The provider's ID."`
}

type providerOutput struct{ Body Provider }

func (h handlers) find(id string) (*externalauth.Provider, error) {
	p, ok := h.Links.Provider(id)
	if !ok {
		return nil, huma.Error404NotFound("No external auth provider " + id + " on this deployment; list-external-auth names those there are.")
	}
	return p, nil
}

func (h handlers) get(ctx context.Context, in *ProviderPath) (*providerOutput, error) {
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	p, err := h.find(in.Provider)
	if err != nil {
		return nil, err
	}
	links, err := h.Links.List(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	return &providerOutput{Body: h.provider(p, links)}, nil
}

type loginInput struct {
	ProviderPath
	Redirect string `query:"redirect" maxLength:"1024" doc:"A path on this deployment to return to; default the provider's page in the dashboard."`
}

// RedirectOutput sends the browser elsewhere.
type RedirectOutput struct {
	Location  string        `header:"Location"`
	SetCookie []http.Cookie `header:"Set-Cookie"`
}

func (h handlers) callbackURL(provider string) string {
	return strings.TrimSuffix(h.AccessURL, "/") + "/api/v2/external-auth/" + url.PathEscape(provider) + "/callback"
}

func (h handlers) login(ctx context.Context, in *loginInput) (*RedirectOutput, error) {
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	p, err := h.find(in.Provider)
	if err != nil {
		return nil, err
	}
	redirect := in.Redirect
	if !strings.HasPrefix(redirect, "/") || strings.HasPrefix(redirect, "//") || strings.HasPrefix(redirect, "/\\") {
		redirect = "/external-auth/" + url.PathEscape(p.ID)
	}
	state, verifier := rand.Text(), oauth2.GenerateVerifier()
	carried := url.Values{"v": {verifier}, "r": {redirect}, "u": {a.UserID.String()}, "p": {p.ID}}
	ticket, err := h.Tickets.Sign(ctx, tickets.KindLinkState, state, carried.Encode(), stateLifetime)
	if err != nil {
		return nil, err
	}
	to, err := p.AuthCodeURL(ctx, h.callbackURL(p.ID), state, verifier)
	if err != nil {
		return nil, huma.Error502BadGateway(p.DisplayName + " cannot be reached to start linking; try again later.")
	}
	return &RedirectOutput{Location: to, SetCookie: []http.Cookie{h.cookie(ticket, time.Now().Add(stateLifetime))}}, nil
}

func (h handlers) cookie(value string, expires time.Time) http.Cookie {
	return http.Cookie{Name: stateCookie, Value: value, Path: "/api/v2/external-auth/", Expires: expires,
		HttpOnly: true, Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode}
}

type callbackInput struct {
	ProviderPath
	Code        string `query:"code" maxLength:"4096"`
	State       string `query:"state" maxLength:"256"`
	Error       string `query:"error" maxLength:"256"`
	Description string `query:"error_description" maxLength:"1024"`
	Cookie      string `cookie:"hearth_link" maxLength:"4096"`
}

func (h handlers) callback(ctx context.Context, in *callbackInput) (*RedirectOutput, error) {
	p, err := h.find(in.Provider)
	if err != nil {
		return nil, err
	}
	audit.Target(ctx, audit.Resource{Type: "external_auth_link", Name: p.ID})
	keys, err := h.Tickets.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	st, err := keys.Verify(in.Cookie, tickets.KindLinkState)
	if err != nil || in.State == "" || st.Subject != in.State {
		return nil, huma.Error400BadRequest("This link to "+p.DisplayName+" expired or did not start in this browser; start it again from the dashboard's External auth page.",
			&huma.ErrorDetail{Location: "query.state", Message: "does not match the link started by this browser"})
	}
	carried, _ := url.ParseQuery(st.Resource) // we encoded it
	user, err := uuid.Parse(carried.Get("u"))
	if err != nil || carried.Get("p") != p.ID {
		return nil, huma.Error400BadRequest("This answer is for another provider's link; start again.")
	}
	if in.Error != "" {
		return nil, huma.Error400BadRequest(p.DisplayName + " did not grant access (" + in.Error + "); nothing was linked.")
	}
	if in.Code == "" {
		return nil, huma.Error400BadRequest(p.DisplayName+" sent no code; nothing was linked.", &huma.ErrorDetail{Location: "query.code", Message: "missing"})
	}
	g, err := p.Exchange(ctx, h.callbackURL(p.ID), in.Code, carried.Get("v"))
	if err != nil {
		return nil, linkError(p, err)
	}
	audit.Actor(ctx, authz.Actor{UserID: user})
	if err := h.store(ctx, user, p, g); err != nil {
		return nil, err
	}
	return &RedirectOutput{Location: carried.Get("r"), SetCookie: []http.Cookie{h.cookie("", time.Unix(0, 0))}}, nil
}

// linkError turns a provider's failure into the user's error: which provider, which step, never
// the provider's body or a token.
func linkError(p *externalauth.Provider, err error) error {
	var pe *externalauth.ProviderError
	if errors.As(err, &pe) {
		if pe.Code != "" {
			return huma.Error400BadRequest(p.DisplayName + " refused the " + pe.Step + " (" + pe.Code + "); nothing was linked. Start again.")
		}
		return huma.Error502BadGateway(p.DisplayName + " did not answer the " + pe.Step + " properly; nothing was linked. Try again later, or ask the operator to check the provider's settings.")
	}
	return err
}

type deviceCodeOutput struct {
	Body externalauth.DeviceCode
}

func (h handlers) startDevice(ctx context.Context, in *ProviderPath) (*deviceCodeOutput, error) {
	p, err := h.find(in.Provider)
	if err != nil {
		return nil, err
	}
	audit.Target(ctx, audit.Resource{Type: "external_auth_link", Name: p.ID})
	if !p.DeviceFlow {
		return nil, huma.Error400BadRequest(p.DisplayName + " is not set up for the device flow; link it in the browser at " + LinkURL(h.AccessURL, p.ID) + ".")
	}
	dc, err := p.StartDevice(ctx)
	if err != nil {
		return nil, linkError(p, err)
	}
	if err := audit.Record(ctx, h.DB.Queries, audit.Resource{Type: "external_auth_link", Name: p.ID}, nil); err != nil {
		return nil, err
	}
	return &deviceCodeOutput{Body: dc}, nil
}

type finishDeviceInput struct {
	ProviderPath
	Body struct {
		DeviceCode string `json:"device_code" minLength:"1" maxLength:"1024" doc:"The device_code start-external-auth-device gave."`
	}
}

type deviceLinkOutput struct {
	Status int
	Body   struct {
		Linked bool `json:"linked"`
	}
}

func (h handlers) finishDevice(ctx context.Context, in *finishDeviceInput) (*deviceLinkOutput, error) {
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	p, err := h.find(in.Provider)
	if err != nil {
		return nil, err
	}
	audit.Target(ctx, audit.Resource{Type: "external_auth_link", Name: p.ID})
	g, err := p.PollDevice(ctx, in.Body.DeviceCode)
	out := &deviceLinkOutput{Status: http.StatusCreated}
	if errors.Is(err, externalauth.ErrPending) {
		out.Status = http.StatusAccepted
		return out, audit.Skipped(ctx, h.DB.Queries, audit.Resource{Type: "external_auth_link", Name: p.ID}, "not approved yet")
	}
	if err != nil {
		return nil, linkError(p, err)
	}
	err = h.store(ctx, a.UserID, p, g)
	out.Body.Linked = err == nil
	return out, err
}

// store keeps a grant as the user's link to p and records the link in the audit log (without its
// tokens), in one transaction.
func (h handlers) store(ctx context.Context, user uuid.UUID, p *externalauth.Provider, g externalauth.Grant) error {
	return h.DB.InTx(ctx, func(tx db.Tx) error {
		if err := h.Links.Store(ctx, tx.Queries, user, p, g); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, linkResource(user, p), audit.Diff(nil, map[string]any{"provider": p.ID, "linked": true}))
	})
}

// linkResource names a user's link to p in the audit log.
func linkResource(user uuid.UUID, p *externalauth.Provider) audit.Resource {
	return audit.Resource{Type: "external_auth_link", ID: user.String() + "/" + p.ID, Name: p.ID}
}

type unlinkProviderOutput struct {
	Body struct {
		Revoked bool   `json:"revoked" doc:"The provider confirmed the tokens are revoked (false: it has no revocation endpoint, or it failed)."`
		Warning string `json:"warning,omitempty"`
	}
}

func (h handlers) unlink(ctx context.Context, in *ProviderPath) (*unlinkProviderOutput, error) {
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	p, err := h.find(in.Provider)
	if err != nil {
		return nil, err
	}
	audit.Target(ctx, audit.Resource{Type: "external_auth_link", Name: p.ID})
	found, revokeErr, err := h.Links.Unlink(ctx, a.UserID, p.ID)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, huma.Error404NotFound("No account is linked to " + p.DisplayName + ".")
	}
	out := &unlinkProviderOutput{}
	out.Body.Revoked = revokeErr == nil && p.Revocable()
	if revokeErr != nil {
		out.Body.Warning = "Unlinked, but " + p.DisplayName + " did not confirm the revocation: revoke Hearth's access in your account's settings there."
	}
	return out, audit.Record(ctx, h.DB.Queries, linkResource(a.UserID, p), audit.Diff(map[string]any{"provider": p.ID, "linked": true}, nil))
}
