// Package app proxies workspace apps (coder_app with a url) through the agent's tunnel, at
// /@OWNER/WORKSPACE[.AGENT]/apps/SLUG/. Access follows the app's sharing level: owner (only the
// workspace's owner), authenticated (anyone signed in) or public (anyone).
//
// The first request is decided with the database; its answer is an app ticket, a JWT naming the
// agent, the app and its target, kept in a cookie scoped to the app's path. Later requests are
// decided by the ticket's signature alone, the way a regional proxy without database access will.
//
// Apps run on the dashboard's origin, so their reach is narrowed: the caller's Hearth credentials
// (session cookie, token headers, app tickets) are never forwarded, and cookies an app sets are
// confined to the app's path.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/internal/activity"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tickets"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// ticketTTL is how long an app ticket lets requests through without asking the database again.
const ticketTTL = 5 * time.Minute

// TicketCookie holds an app ticket, scoped to the app's path.
const TicketCookie = "hearth_app_ticket"

// Deps are what the proxy needs.
type Deps struct {
	DB       *db.DB
	Auth     *authn.Authenticator
	Tickets  *tickets.Signer
	Relay    *relay.Relay
	Activity *activity.Recorder
	Logger   *slog.Logger
	// SecureCookies marks ticket cookies Secure (an https access URL).
	SecureCookies bool
}

// Handler serves /@OWNER/WORKSPACE[.AGENT]/apps/SLUG/...
func Handler(d Deps) http.Handler {
	return &proxy{d}
}

type proxy struct{ Deps }

// grant is what a ticket carries: where the app is and whose workspace it is in.
type grant struct {
	Agent     uuid.UUID `json:"agent"`
	Workspace uuid.UUID `json:"workspace"`
	Slug      string    `json:"slug"`
	Target    string    `json:"target"` // the app's URL, as seen from the workspace
	Share     string    `json:"share"`
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ref, ok := parsePath(r.URL.Path)
	if !ok {
		p.fail(w, http.StatusNotFound, "Not an app path: want /@OWNER/WORKSPACE[.AGENT]/apps/SLUG/.")
		return
	}
	if r.URL.Path == ref.prefix[:len(ref.prefix)-1] {
		http.Redirect(w, r, ref.prefix+query(r), http.StatusTemporaryRedirect)
		return
	}
	g, err := p.fromTicket(r, ref)
	if err != nil {
		var status int
		g, status, err = p.decide(r, ref)
		if err != nil {
			if status == http.StatusUnauthorized && strings.Contains(r.Header.Get("Accept"), "text/html") {
				http.Redirect(w, r, "/login?redirect="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			p.fail(w, status, err.Error())
			return
		}
		p.setTicket(w, r, ref, g)
	}
	if p.Activity != nil {
		p.Activity.Touch(g.Workspace)
	}
	p.forward(w, r, ref, g)
}

// ref is an app path, parsed.
type ref struct {
	owner, workspace, agent, slug string
	prefix                        string // /@owner/workspace/apps/slug/
}

func parsePath(path string) (ref, bool) {
	rest, ok := strings.CutPrefix(path, "/@")
	if !ok {
		return ref{}, false
	}
	parts := strings.SplitN(rest, "/", 5)
	if len(parts) < 4 || parts[2] != "apps" || parts[0] == "" || parts[1] == "" || parts[3] == "" {
		return ref{}, false
	}
	f := ref{owner: parts[0], slug: parts[3]}
	f.workspace, f.agent, _ = strings.Cut(parts[1], ".")
	f.prefix = "/@" + parts[0] + "/" + parts[1] + "/apps/" + parts[3] + "/"
	return f, true
}

func query(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

// fromTicket accepts a valid ticket of this app without the database.
func (p *proxy) fromTicket(r *http.Request, f ref) (grant, error) {
	c, err := r.Cookie(TicketCookie)
	if err != nil {
		return grant{}, err
	}
	keys, err := p.Tickets.KeySet(r.Context())
	if err != nil {
		return grant{}, err
	}
	claims, err := keys.Verify(c.Value, tickets.KindApp)
	if err != nil {
		return grant{}, err
	}
	var g grant
	if err := json.Unmarshal([]byte(claims.Resource), &g); err != nil || claims.Subject != f.prefix {
		return grant{}, errors.New("the ticket is for another app")
	}
	return g, nil
}

// decide looks the app up and checks the caller against its sharing level.
func (p *proxy) decide(r *http.Request, f ref) (grant, int, error) {
	ctx := r.Context()
	agents, err := p.DB.ListAgentsByOwnerAndWorkspace(ctx, dbsqlc.ListAgentsByOwnerAndWorkspaceParams{OwnerName: f.owner, WorkspaceName: f.workspace})
	if err != nil {
		p.Logger.ErrorContext(ctx, "app: looking up the workspace failed", "error", err)
		return grant{}, http.StatusInternalServerError, errors.New("the app could not be looked up")
	}
	notFound := fmt.Errorf("no app %s in workspace %s/%s", f.slug, f.owner, f.workspace)
	var found *dbsqlc.ListAgentsByOwnerAndWorkspaceRow
	for i, a := range agents {
		if a.WorkspaceAgent.Name == f.agent || (f.agent == "" && len(agents) == 1) {
			found = &agents[i]
		}
	}
	if found == nil {
		return grant{}, http.StatusNotFound, notFound
	}
	var apps []provisioner.App
	_ = json.Unmarshal(found.WorkspaceAgent.Apps, &apps) // written by us
	var app *provisioner.App
	for i := range apps {
		if apps[i].Slug == f.slug {
			app = &apps[i]
		}
	}
	share := "owner"
	if app != nil && app.Share != "" {
		share = app.Share
	}
	actor, authErr := p.caller(r)
	// Until the caller may see the app, it does not exist for them.
	switch {
	case share == "public":
	case authErr != nil:
		return grant{}, http.StatusUnauthorized, errors.New("sign in to open this app")
	case share == "authenticated":
	case actor.UserID != found.OwnerID:
		return grant{}, http.StatusNotFound, notFound
	}
	if app == nil {
		return grant{}, http.StatusNotFound, notFound
	}
	if app.URL == "" {
		return grant{}, http.StatusNotFound, fmt.Errorf("app %s runs a command, not a web server: open it in a terminal", f.slug)
	}
	return grant{Agent: found.WorkspaceAgent.ID, Workspace: found.WorkspaceID, Slug: app.Slug, Target: app.URL, Share: share}, 0, nil
}

// caller authenticates the request with the dashboard's session cookie or a token header.
func (p *proxy) caller(r *http.Request) (authz.Actor, error) {
	token := ""
	if c, err := r.Cookie(users.CookieName); err == nil {
		token = c.Value
	}
	if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = strings.TrimSpace(v)
	}
	if v := r.Header.Get("Hearth-Session-Token"); v != "" {
		token = v
	}
	if token == "" {
		return authz.Actor{}, authn.ErrInvalidToken
	}
	return p.Auth.Authenticate(r.Context(), token)
}

func (p *proxy) setTicket(w http.ResponseWriter, r *http.Request, f ref, g grant) {
	res, _ := json.Marshal(g)
	t, err := p.Tickets.Sign(r.Context(), tickets.KindApp, f.prefix, string(res), ticketTTL)
	if err != nil {
		p.Logger.WarnContext(r.Context(), "app: signing a ticket failed", "error", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: TicketCookie, Value: t, Path: f.prefix, HttpOnly: true, Secure: p.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ticketTTL.Seconds())})
}

// forward proxies the request (HTTP or a websocket upgrade) to the app through the agent's tunnel.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request, f ref, g grant) {
	target, err := url.Parse(g.Target)
	if err != nil || target.Host == "" {
		p.fail(w, http.StatusBadGateway, "the app's URL "+g.Target+" is not a URL")
		return
	}
	addr := target.Host
	if target.Port() == "" {
		port := "80"
		if target.Scheme == "https" {
			port = "443"
		}
		addr = net.JoinHostPort(target.Hostname(), port)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = singleJoin(target.Path, strings.TrimPrefix(r.URL.Path, f.prefix))
			pr.Out.URL.RawPath = ""
			pr.Out.Host = target.Host
			pr.SetXForwarded()
			pr.Out.Header.Set("X-Forwarded-Prefix", strings.TrimSuffix(f.prefix, "/"))
			stripCredentials(pr.Out)
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return p.Relay.Dial(ctx, g.Agent, tunnel.Header{Kind: tunnel.KindTCP, Addr: addr})
			},
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
		},
		ModifyResponse: func(res *http.Response) error {
			confineCookies(res.Header, f.prefix)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			var refused *tunnel.RefusedError
			switch {
			case errors.Is(err, relay.ErrNotConnected):
				p.fail(w, http.StatusBadGateway, "the workspace's agent is not connected")
			case errors.As(err, &refused):
				p.fail(w, http.StatusBadGateway, "the app is not answering: "+refused.Reason)
			default:
				p.fail(w, http.StatusBadGateway, "the app could not be reached")
			}
		},
	}
	rp.ServeHTTP(w, r)
}

func singleJoin(a, b string) string {
	return strings.TrimSuffix(a, "/") + "/" + strings.TrimPrefix(b, "/")
}

// stripCredentials removes the caller's Hearth credentials from a request bound for an app.
func stripCredentials(r *http.Request) {
	r.Header.Del("Hearth-Session-Token")
	if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
		r.Header.Del("Authorization")
	}
	cookies := r.Cookies()
	r.Header.Del("Cookie")
	for _, c := range cookies {
		if c.Name != users.CookieName && c.Name != TicketCookie {
			r.AddCookie(c)
		}
	}
}

// confineCookies keeps an app's cookies on the app's path, without a Domain, so they never reach the
// dashboard or other apps.
func confineCookies(h http.Header, prefix string) {
	raw := h.Values("Set-Cookie")
	if len(raw) == 0 {
		return
	}
	h.Del("Set-Cookie")
	for _, line := range raw {
		c, err := http.ParseSetCookie(line)
		if err != nil || c.Name == users.CookieName || c.Name == TicketCookie {
			continue
		}
		c.Domain = ""
		if !strings.HasPrefix(c.Path, prefix) {
			c.Path = prefix
		}
		h.Add("Set-Cookie", c.String())
	}
}

func (p *proxy) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!doctype html><title>%d %s</title><h1>%s</h1><p>%s.</p>\n", status, http.StatusText(status),
		http.StatusText(status), html.EscapeString(msg))
}
