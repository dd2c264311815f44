// Package app proxies workspace apps (coder_app with a url) through the agent's tunnel, at a path,
// /@OWNER/WORKSPACE[.AGENT]/apps/SLUG/, or at a host of their own under the deployment's wildcard
// apps host, SLUG--AGENT--WORKSPACE--OWNER.APPS_HOST (hearth server --wildcard-access-url). Access follows
// the app's sharing level: owner (only the workspace's owner), authenticated (anyone signed in) or
// public (anyone). A command app (coder_app with a command) opens the dashboard's terminal instead.
//
// The first request is decided with the database; its answer is an app ticket, a JWT naming the
// user and session it was issued to, the agent, the app and its target, kept in a cookie scoped to
// the app (its path, or its host). A ticket holds only while its session does (not signed out,
// revoked, expired or suspended), and its decision is taken again every recheckEvery, so an app
// that stops being shared stops opening; a request that carries another user's session than the
// ticket's is refused.
//
// A subdomain app's host does not see the dashboard's session cookie, so a browser that is not yet
// allowed in is sent to the dashboard (authorize-app), which decides with the session and sends it
// back with a one-minute, single-use ticket in the query; the app host swaps it for its cookie.
//
// An app's code runs in the browser of whoever opens it. On its own host that code cannot reach
// the dashboard's cookies or storage, so subdomain apps are the safe form, and with a wildcard
// host browsers opening an app's path are sent there. A path app shares the dashboard's origin,
// so its responses carry Content-Security-Policy: sandbox without allow-same-origin (the page runs
// at an opaque origin: its requests to the dashboard carry no cookies and its answers cannot be
// read), unless the operator names its template in UnsandboxedTemplates; and a path app opens for
// its workspace's owner only, unless the operator sets AllowPathAppSharing. Either way the
// caller's Hearth credentials (session cookie, token headers, app tickets) are never forwarded,
// and cookies an app sets are confined to the app's path or host.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/internal/acl"
	"github.com/hearthdev/hearth/internal/activity"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tickets"
)

// ticketTTL is how long an app ticket lets requests through without asking the database again.
const ticketTTL = 5 * time.Minute

// TicketCookie holds an app ticket, scoped to the app's path or host; TicketParam brings one to a
// subdomain app's host from the dashboard.
const (
	TicketCookie = "hearth_app_ticket"
	TicketParam  = "hearth_app_ticket"
)

// AuthorizePath is the dashboard-origin endpoint that sends browsers on to subdomain apps.
const AuthorizePath = "/api/v2/applications/authorize"

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
	// AccessURL is the dashboard's URL (where browsers sign in).
	AccessURL string
	// AppsHost is the wildcard host of subdomain apps, such as *.apps.example.com; empty turns
	// subdomain apps off.
	AppsHost string
	// AllowPathAppSharing lets path apps open for others than their workspace's owner, as their
	// sharing level says; off, only subdomain apps are shared.
	AllowPathAppSharing bool
	// UnsandboxedTemplates names templates whose path apps are served without the sandbox.
	UnsandboxedTemplates []string
}

// Proxy serves workspace apps.
type Proxy struct {
	Deps
	suffix string // ".apps.example.com", from AppsHost

	// transports keeps one HTTP transport per agent and app address, so an app's requests reuse
	// their connections (each a stream through the agent's tunnel) instead of dialing for each.
	mu         sync.Mutex
	transports map[appConn]*appTransport
	swept      time.Time

	// checked is when each ticket (by its ID) last had its decision taken again.
	checkMu    sync.Mutex
	checked    map[string]time.Time
	checkSwept time.Time
}

// New makes the proxy. Check AppsHost with CheckHost first: one that is not *.DOMAIN is ignored.
func New(d Deps) *Proxy {
	p := &Proxy{Deps: d}
	if CheckHost(d.AppsHost) == nil && d.AppsHost != "" {
		p.suffix = "." + strings.ToLower(strings.TrimPrefix(d.AppsHost, "*."))
	}
	return p
}

// Owns reports whether a request is for an app: a subdomain app's host, or an app path. Other
// /@OWNER/... paths are the dashboard's (a workspace's page, its terminal).
func (p *Proxy) Owns(r *http.Request) bool {
	if p.appHost(r.Host) {
		return true
	}
	_, ok := parsePath(r.URL.Path)
	return ok
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.appHost(r.Host) {
		f, ok := p.parseHost(r.Host)
		if !ok {
			p.unknownHost(w, r)
			return
		}
		p.serveSubdomain(w, r, f)
		return
	}
	f, ok := parsePath(r.URL.Path)
	if !ok {
		p.fail(w, http.StatusNotFound, "Not an app path: want /@OWNER/WORKSPACE[.AGENT]/apps/SLUG/")
		return
	}
	if r.URL.Path == f.prefix[:len(f.prefix)-1] {
		http.Redirect(w, r, f.prefix+query(r), http.StatusTemporaryRedirect)
		return
	}
	if p.suffix != "" && wantsHTML(r) {
		// A browser opens the app on its own host, where its code cannot reach the dashboard.
		http.Redirect(w, r, p.hostURL(r, f)+strings.TrimPrefix(r.URL.Path, f.prefix)+query(r), http.StatusTemporaryRedirect)
		return
	}
	if g, ok := p.admit(w, r, f, "/login?redirect="+url.QueryEscape(r.URL.RequestURI())); ok {
		p.open(w, r, f, g)
	}
}

// serveSubdomain serves an app on its own host.
func (p *Proxy) serveSubdomain(w http.ResponseWriter, r *http.Request, f ref) {
	if t := r.URL.Query().Get(TicketParam); t != "" {
		p.exchange(w, r, f, t)
		return
	}
	// The dashboard knows the browser: it decides and sends it back with a ticket.
	here := p.scheme() + "://" + r.Host + r.URL.RequestURI()
	if g, ok := p.admit(w, r, f, strings.TrimSuffix(p.AccessURL, "/")+AuthorizePath+"?redirect_uri="+url.QueryEscape(here)); ok {
		p.open(w, r, f, g)
	}
}

// admit finds what a request may open: its ticket, or else a decision, answered with a ticket
// cookie. A browser that must sign in first is sent to signIn. ok is false when admit has answered.
func (p *Proxy) admit(w http.ResponseWriter, r *http.Request, f ref, signIn string) (grant, bool) {
	g, err := p.fromTicket(r, f)
	var refused *refusal
	switch {
	case err == nil:
		return g, true
	case errors.As(err, &refused):
		p.refuse(w, r, f, refused)
		return grant{}, false
	}
	actor, authErr := p.caller(r)
	g, status, err := p.decide(r.Context(), f, actor, authErr)
	switch {
	case err != nil && status == http.StatusUnauthorized && wantsHTML(r):
		http.Redirect(w, r, signIn, http.StatusSeeOther)
		return grant{}, false
	case err != nil:
		p.fail(w, status, err.Error())
		return grant{}, false
	}
	p.setTicket(w, r, f, g)
	return g, true
}

// open proxies to a web app, or sends a command app to the dashboard's terminal running its command.
func (p *Proxy) open(w http.ResponseWriter, r *http.Request, f ref, g grant) {
	if g.Command != "" {
		q := url.Values{"command": {g.Command}}
		http.Redirect(w, r, strings.TrimSuffix(p.AccessURL, "/")+"/@"+f.owner+"/"+f.workspace+"."+g.AgentName+"/terminal?"+q.Encode(), http.StatusSeeOther)
		return
	}
	if p.Activity != nil {
		p.Activity.Touch(g.Workspace)
	}
	p.forward(w, r, f, g)
}

func (p *Proxy) scheme() string {
	if strings.HasPrefix(p.AccessURL, "https:") {
		return "https"
	}
	return "http"
}

func wantsHTML(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// ref names an app, from its path or its host.
type ref struct {
	owner, workspace, agent, slug string
	// prefix is the path the app is mounted at: /@owner/workspace/apps/slug/, or / on its own host.
	prefix string
	// subject is what its tickets are for: the prefix, or //host for a subdomain app.
	subject string
	// host is a subdomain app's host name (no port); empty for a path app.
	host string
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
	f.subject = f.prefix
	return f, true
}

func query(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	return "?" + r.URL.RawQuery
}

// decide looks the app up and checks the caller (or authErr, when the request names nobody) against
// its sharing level.
func (p *Proxy) decide(ctx context.Context, f ref, actor authz.Actor, authErr error) (grant, int, error) {
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
	// Until the caller may see the app, it does not exist for them.
	switch {
	case share == "public":
	case authErr != nil:
		return grant{}, http.StatusUnauthorized, errors.New("sign in to open this app")
	case share == "authenticated":
	default:
		if ok, err := p.mayOpen(ctx, actor, found); !ok {
			if err != nil {
				p.Logger.ErrorContext(ctx, "app: reading the workspace's access list failed", "error", err)
				return grant{}, http.StatusInternalServerError, errors.New("the app could not be looked up")
			}
			return grant{}, http.StatusNotFound, notFound
		}
	}
	if app == nil {
		return grant{}, http.StatusNotFound, notFound
	}
	if app.External {
		// An external app is a link for the browser to follow itself: never fetched through the agent.
		return grant{}, http.StatusBadRequest, fmt.Errorf("%s is an external app: open %s itself; Hearth does not proxy external apps", app.Slug, app.URL)
	}
	others := authErr != nil || actor.UserID != found.OwnerID
	g := grant{Agent: found.WorkspaceAgent.ID, AgentName: found.WorkspaceAgent.Name, Workspace: found.WorkspaceID, Slug: app.Slug, Target: app.URL, Share: share,
		Unsandboxed: f.host == "" && slices.Contains(p.UnsandboxedTemplates, found.TemplateName)}
	if authErr == nil {
		g.User, g.Key = actor.UserID, actor.KeyID
	}
	if app.URL == "" {
		// A terminal is for those who may open the owner's apps, whatever the sharing level says.
		if ok, _ := p.mayOpen(ctx, actor, found); authErr != nil || !ok {
			return grant{}, http.StatusNotFound, notFound
		}
		g.Command = app.Command
	}
	if f.host == "" && others && !p.AllowPathAppSharing {
		return grant{}, http.StatusForbidden, fmt.Errorf("this app is shared (%s), but not at its path on this deployment: a path app runs on the dashboard's own origin, "+
			"where its code could act as whoever opens it. Shared apps open on a host of their own when the deployment has a wildcard access URL "+
			"(hearth server --wildcard-access-url '*.apps.example.com'); an operator who accepts the risk can allow shared path apps with --dangerous-allow-path-app-sharing", share)
	}
	return g, 0, nil
}

// mayOpen reports whether actor may open the workspace's apps shared at the owner level: its owner,
// or someone it is shared with.
func (p *Proxy) mayOpen(ctx context.Context, actor authz.Actor, found *dbsqlc.ListAgentsByOwnerAndWorkspaceRow) (bool, error) {
	ctx = authz.WithActor(ctx, actor)
	w, err := acl.Workspace(ctx, p.DB.Queries, found.WorkspaceID, found.OwnerID)
	if err != nil {
		return false, err
	}
	return authz.AuthorizeWorkspace(ctx, authz.OpenWorkspaceApps, w) == nil, nil
}

// caller authenticates the request with the dashboard's session cookie or a token header.
func (p *Proxy) caller(r *http.Request) (authz.Actor, error) {
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

func (p *Proxy) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<!doctype html><title>%d %s</title><h1>%s</h1><p>%s.</p>\n", status, http.StatusText(status),
		http.StatusText(status), html.EscapeString(msg))
}
