package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/tickets"
)

// recheckEvery is how often a ticket's decision is taken again while it is used: the longest an app
// keeps opening after it stops being shared (a revoked or suspended session stops it sooner, within
// authn.CacheTTL).
const recheckEvery = 5 * time.Second

// grant is what a ticket carries: whom it was issued to, where the app is and whose workspace it is in.
type grant struct {
	// User and Key are the user and session (API key ID) the ticket was issued to; both empty for
	// someone who is not signed in, opening a public app.
	User        uuid.UUID `json:"user,omitzero"`
	Key         string    `json:"key,omitempty"`
	Agent       uuid.UUID `json:"agent"`
	Workspace   uuid.UUID `json:"workspace"`
	Slug        string    `json:"slug"`
	AgentName   string    `json:"agent_name"`
	Target      string    `json:"target,omitempty"`  // a web app's URL, as seen from the workspace
	Command     string    `json:"command,omitempty"` // a command app's command
	Share       string    `json:"share"`
	Unsandboxed bool      `json:"unsandboxed,omitempty"` // a path app the operator let out of the sandbox
}

// Why a ticket is not taken. errNoTicket and errStale send the request on to a fresh decision;
// errForeign answers it.
var (
	errNoTicket = errors.New("no app ticket")
	errStale    = errors.New("the app ticket no longer stands")
)

// refusal is a ticket refused outright, with what to tell the browser.
type refusal struct {
	status int
	reason string // for the log
	msg    string // for the page
}

func (e *refusal) Error() string { return e.reason }

// fromTicket accepts the request's ticket cookie for this app while it still stands for its holder.
func (p *Proxy) fromTicket(r *http.Request, f ref) (grant, error) {
	c, err := r.Cookie(TicketCookie)
	if err != nil {
		return grant{}, errNoTicket
	}
	g, claims, err := p.verify(r.Context(), c.Value, f)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return grant{}, errStale
	}
	if err != nil {
		return grant{}, &refusal{http.StatusForbidden, "ticket cookie: " + err.Error(),
			"This browser's ticket for the app is not valid for it (altered, or for another app). It has been cleared: reload the page to open the app again"}
	}
	if g.User != uuid.Nil {
		// The request's own session, when it sends one (a path app's top-level page does), must be
		// the ticket's user's: a ticket copied into another user's browser opens nothing.
		if session := sessionCookie(r); session != "" {
			if actor, err := p.Auth.Authenticate(r.Context(), session); err == nil && actor.UserID != g.User {
				return grant{}, &refusal{http.StatusForbidden, "ticket cookie of another user than the session's",
					"This app ticket was issued to another user, so it does not open the app for you. It has been cleared: reload the page to open the app as yourself"}
			} else if err == nil && actor.KeyID != g.Key {
				return grant{}, errStale // the same user's new session: decide afresh, with it
			}
		}
	}
	return p.hold(r.Context(), f, g, claims.ID)
}

// hold checks that a ticket's grant still stands: its session still authenticates and, at most
// every recheckEvery, the app is still the holder's to open.
func (p *Proxy) hold(ctx context.Context, f ref, g grant, id string) (grant, error) {
	actor, authErr := authz.Actor{}, authn.ErrInvalidToken
	if g.User != uuid.Nil {
		var err error
		if actor, err = p.Auth.Check(ctx, g.Key); err != nil {
			return grant{}, errStale // signed out, revoked, expired or suspended
		}
		authErr = nil
	}
	if !p.due(id) {
		return g, nil
	}
	now, _, err := p.decide(ctx, f, actor, authErr)
	if err != nil || now.Agent != g.Agent {
		p.forgetCheck(id)
		return grant{}, errStale
	}
	now.User, now.Key = g.User, g.Key
	return now, nil
}

// due reports whether a ticket's decision is to be taken again, and if so counts it as taken now.
func (p *Proxy) due(id string) bool {
	now := time.Now()
	p.checkMu.Lock()
	defer p.checkMu.Unlock()
	if p.checked == nil {
		p.checked = map[string]time.Time{}
	}
	if now.Sub(p.checkSwept) > ticketTTL {
		for k, at := range p.checked {
			if now.Sub(at) > ticketTTL {
				delete(p.checked, k)
			}
		}
		p.checkSwept = now
	}
	if at, ok := p.checked[id]; ok && now.Sub(at) < recheckEvery {
		return false
	}
	p.checked[id] = now
	return true
}

func (p *Proxy) forgetCheck(id string) {
	p.checkMu.Lock()
	delete(p.checked, id)
	p.checkMu.Unlock()
}

// exchange turns a ticket brought in the query into the app host's cookie, and sends the browser to
// the same address without it (so it stays out of the app's logs and the browser's history). Such
// a ticket works once: a link copied out of a browser's history or logs opens nothing.
func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, f ref, ticket string) {
	ctx := r.Context()
	g, claims, err := p.verify(ctx, ticket, f)
	if err != nil {
		p.refuse(w, r, f, &refusal{http.StatusUnauthorized, "ticket in the address: " + err.Error(),
			"The app ticket in this address is not valid for this app (expired, altered or for another app): open the app again from the dashboard"})
		return
	}
	used, err := p.DB.UseAppTicket(ctx, dbsqlc.UseAppTicketParams{ID: claims.ID, ExpiresAt: claims.ExpiresAt.Time})
	if err != nil {
		p.Logger.ErrorContext(ctx, "app: recording a ticket's use failed", "error", err)
		p.fail(w, http.StatusServiceUnavailable, "The app ticket could not be checked: try again in a moment")
		return
	}
	if used == 0 {
		p.refuse(w, r, f, &refusal{http.StatusUnauthorized, "ticket in the address used before",
			"This app link was used before, and an app ticket in a link works once: open the app again from the dashboard"})
		return
	}
	if g, err = p.hold(ctx, f, g, claims.ID); err != nil {
		p.refuse(w, r, f, &refusal{http.StatusUnauthorized, "ticket in the address: its session ended or the app is no longer shared",
			"The session this app ticket was issued to has ended, or the app is no longer yours to open: open it again from the dashboard"})
		return
	}
	p.setTicket(w, r, f, g)
	u := *r.URL
	q := u.Query()
	q.Del(TicketParam)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
}

// refuse answers a refused ticket with a page saying why, clears the ticket cookie, and logs the
// refusal (never the ticket).
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, f ref, e *refusal) {
	p.Logger.InfoContext(r.Context(), "app: refused a ticket", "app", f.subject, "reason", e.reason, "remote", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{Name: TicketCookie, Value: "", Path: f.prefix, MaxAge: -1, HttpOnly: true,
		Secure: p.SecureCookies})
	p.fail(w, e.status, e.msg)
}

func (p *Proxy) verify(ctx context.Context, ticket string, f ref) (grant, *tickets.Claims, error) {
	keys, err := p.Tickets.KeySet(ctx)
	if err != nil {
		return grant{}, nil, err
	}
	claims, err := keys.Verify(ticket, tickets.KindApp)
	if err != nil {
		return grant{}, nil, err
	}
	var g grant
	if err := json.Unmarshal([]byte(claims.Resource), &g); err != nil || claims.Subject != f.subject {
		return grant{}, nil, fmt.Errorf("the ticket is for another app (%s)", claims.Subject)
	}
	return g, claims, nil
}

// setTicket answers with the ticket cookie. A sandboxed path app's page has an opaque origin, so
// browsers treat its own requests (for its scripts, styles, images) as third-party and send no
// cookie with them, whatever its SameSite: only the page's navigations carry the ticket.
func (p *Proxy) setTicket(w http.ResponseWriter, r *http.Request, f ref, g grant) {
	t, err := p.sign(r.Context(), f, g, ticketTTL)
	if err != nil {
		p.Logger.WarnContext(r.Context(), "app: signing a ticket failed", "error", err)
		return
	}
	// No Domain: a subdomain app's cookie stays on its own host.
	http.SetCookie(w, &http.Cookie{Name: TicketCookie, Value: t, Path: f.prefix, HttpOnly: true, Secure: p.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ticketTTL.Seconds())})
}

func (p *Proxy) sign(ctx context.Context, f ref, g grant, ttl time.Duration) (string, error) {
	res, _ := json.Marshal(g)
	return p.Tickets.Sign(ctx, tickets.KindApp, f.subject, string(res), ttl)
}

func sessionCookie(r *http.Request) string {
	if c, err := r.Cookie(users.CookieName); err == nil {
		return c.Value
	}
	return ""
}
