package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tunnel"
)

type appConn struct {
	agent uuid.UUID
	addr  string
}

type appTransport struct {
	*http.Transport
	used time.Time
}

// appIdle is how long an app's idle connections are kept, and twice that how long its transport is.
const appIdle = 30 * time.Second

// transport is the transport to addr through agent's tunnel.
func (p *Proxy) transport(agent uuid.UUID, addr string) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.swept) > appIdle {
		// Forget the transports of apps nobody used lately (their idle connections are closed by now).
		for k, t := range p.transports {
			if now.Sub(t.used) > 2*appIdle {
				t.CloseIdleConnections()
				delete(p.transports, k)
			}
		}
		p.swept = now
	}
	key := appConn{agent, addr}
	t := p.transports[key]
	if t == nil {
		if p.transports == nil {
			p.transports = map[appConn]*appTransport{}
		}
		t = &appTransport{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return p.Relay.Dial(ctx, agent, tunnel.Header{Kind: tunnel.KindTCP, Addr: addr})
			},
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     appIdle,
		}}
		p.transports[key] = t
	}
	t.used = now
	return t.Transport
}

// forward proxies the request (HTTP or a websocket upgrade) to the app through the agent's tunnel.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, f ref, g grant) {
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
			if f.host == "" {
				pr.Out.Header.Set("X-Forwarded-Prefix", strings.TrimSuffix(f.prefix, "/"))
			}
			stripCredentials(pr.Out)
		},
		Transport: p.transport(g.Agent, addr),
		ModifyResponse: func(res *http.Response) error {
			confineCookies(res.Header, f.prefix)
			contain(res.Header, f, g)
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

// pathAppSandbox is the Content-Security-Policy of a path app's responses: its pages run scripts,
// submit forms, open popups (sandboxed too) and dialogs, and download, at an opaque origin of
// their own, so nothing they do is the dashboard's origin's doing. Without allow-same-origin the
// browser neither sends the dashboard's cookies with the page's requests to it nor lets the page
// read its answers, its cookies or its storage.
const pathAppSandbox = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads allow-pointer-lock allow-presentation"

// contain adds to an app's response what keeps it in its place. A path app is sandboxed (unless
// the operator let its template out), and may neither clear the dashboard's site data nor widen a
// service worker's scope past its path. An app on its own host gets a Cross-Origin-Opener-Policy
// unless it sent one: windows of other origins it opens or is opened by lose their handle on it
// (not on a path app, whose sandbox the browser would then refuse to open).
func contain(h http.Header, f ref, g grant) {
	if f.host != "" {
		if h.Get("Cross-Origin-Opener-Policy") == "" {
			h.Set("Cross-Origin-Opener-Policy", "same-origin-allow-popups")
		}
		return
	}
	h.Del("Clear-Site-Data")
	h.Del("Service-Worker-Allowed")
	if !g.Unsandboxed {
		h.Add("Content-Security-Policy", pathAppSandbox)
		h.Del("Cross-Origin-Opener-Policy") // with a sandbox, browsers refuse any but unsafe-none
	}
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

// confineCookies keeps an app's cookies on the app's path (/ for a subdomain app), without a Domain,
// so they never reach the dashboard or other apps.
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
