package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
)

// Register adds authorize-app, the dashboard-origin half of subdomain apps, to the API.
func (p *Proxy) Register(api huma.API) {
	huma.Register(api, huma.Operation{OperationID: "authorize-app", Method: http.MethodGet, Path: AuthorizePath,
		Summary: "Send a browser on to a subdomain app", Tags: []string{"Apps"},
		Description: "A subdomain app's host (SLUG--AGENT--WORKSPACE--OWNER under --wildcard-access-url) does not see the dashboard's session cookie, so it sends browsers here. " +
			"With the session cookie and access to the app, this answers 303 to redirect_uri with a one-minute, single-use app ticket issued to the session in " + TicketParam + ", which the app's host swaps for a cookie of its own; without a session, 303 to the sign-in page, which comes back here.",
		DefaultStatus: http.StatusSeeOther, Errors: []int{http.StatusBadRequest, http.StatusNotFound},
		Metadata: map[string]any{"audit": false}}, p.authorize)
	huma.Register(api, huma.Operation{OperationID: "get-applications-host", Method: http.MethodGet, Path: "/api/v2/applications/host",
		Summary: "Get the wildcard host of subdomain apps", Tags: []string{"Apps"},
		Description: "The host pattern apps are served under (hearth server --wildcard-access-url), such as *.apps.example.com: an app is at " +
			"SLUG--AGENT--WORKSPACE--OWNER in place of the *. Empty when apps are served at paths only.",
		Errors: []int{http.StatusInternalServerError}},
		func(context.Context, *struct{}) (*appsHostOutput, error) {
			out := &appsHostOutput{}
			if p.suffix != "" {
				out.Body.Host = "*" + p.suffix
			}
			return out, nil
		})
}

type appsHostOutput struct {
	Body struct {
		Host string `json:"host" doc:"The wildcard apps host, or empty." example:"*.apps.example.com"`
	}
}

type authorizeInput struct {
	RedirectURI string `query:"redirect_uri" required:"true" maxLength:"8192" doc:"The app address to go on to, on the apps host." example:"http://files--main--dev--alice.apps.localhost:3000/"`
	Session     string `cookie:"hearth_session" doc:"The dashboard's session cookie."`
}

type authorizeOutput struct {
	Status   int
	Location string `header:"Location"`
}

func (p *Proxy) authorize(ctx context.Context, in *authorizeInput) (*authorizeOutput, error) {
	if p.suffix == "" {
		return nil, huma.Error404NotFound("Subdomain apps are off on this deployment (hearth server --wildcard-access-url).")
	}
	u, err := url.Parse(in.RedirectURI)
	var f ref
	ok := err == nil && (u.Scheme == "http" || u.Scheme == "https")
	if ok {
		f, ok = p.parseHost(u.Host)
	}
	if !ok {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.redirect_uri",
			Message: "must be an app's address, SLUG--AGENT--WORKSPACE--OWNER" + p.suffix, Value: in.RedirectURI})
	}
	actor, authErr := authz.Actor{}, authn.ErrInvalidToken
	if in.Session != "" {
		actor, authErr = p.Auth.Authenticate(ctx, in.Session)
	}
	g, status, err := p.decide(ctx, f, actor, authErr)
	switch {
	case status == http.StatusUnauthorized:
		back := AuthorizePath + "?" + url.Values{"redirect_uri": {in.RedirectURI}}.Encode()
		return &authorizeOutput{Status: http.StatusSeeOther, Location: "/login?redirect=" + url.QueryEscape(back)}, nil
	case err != nil:
		return nil, huma.NewError(status, capitalize(err.Error())+".")
	}
	t, err := p.sign(ctx, f, g, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("app: signing a ticket: %w", err)
	}
	q := u.Query()
	q.Set(TicketParam, t)
	u.RawQuery = q.Encode()
	return &authorizeOutput{Status: http.StatusSeeOther, Location: u.String()}, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
