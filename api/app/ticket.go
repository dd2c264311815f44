package app

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/hearthdev/hearth/internal/tickets"
)

// grant is what a ticket carries: where the app is and whose workspace it is in.
type grant struct {
	Agent     uuid.UUID `json:"agent"`
	Workspace uuid.UUID `json:"workspace"`
	Slug      string    `json:"slug"`
	AgentName string    `json:"agent_name"`
	Target    string    `json:"target,omitempty"`  // a web app's URL, as seen from the workspace
	Command   string    `json:"command,omitempty"` // a command app's command
	Share     string    `json:"share"`
}

// exchange turns a ticket brought in the query into the app host's cookie, and sends the browser to
// the same address without it (so it stays out of the app's logs and the browser's history).
func (p *Proxy) exchange(w http.ResponseWriter, r *http.Request, f ref, ticket string) {
	g, err := p.verify(r.Context(), ticket, f)
	if err != nil {
		p.fail(w, http.StatusUnauthorized, "The app ticket is not valid for this app (expired, or for another app): open the app again")
		return
	}
	p.setTicket(w, r, f, g)
	u := *r.URL
	q := u.Query()
	q.Del(TicketParam)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
}

// fromTicket accepts a valid ticket cookie of this app without the database.
func (p *Proxy) fromTicket(r *http.Request, f ref) (grant, error) {
	c, err := r.Cookie(TicketCookie)
	if err != nil {
		return grant{}, err
	}
	return p.verify(r.Context(), c.Value, f)
}

func (p *Proxy) verify(ctx context.Context, ticket string, f ref) (grant, error) {
	keys, err := p.Tickets.KeySet(ctx)
	if err != nil {
		return grant{}, err
	}
	claims, err := keys.Verify(ticket, tickets.KindApp)
	if err != nil {
		return grant{}, err
	}
	var g grant
	if err := json.Unmarshal([]byte(claims.Resource), &g); err != nil || claims.Subject != f.subject {
		return grant{}, errors.New("the ticket is for another app")
	}
	return g, nil
}

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
