// Package oauthtest is a real OAuth 2.0 authorization server for tests, served over HTTP on
// loopback: the authorization-code grant with PKCE (behind a consent page a browser clicks
// through), the device authorization grant, refresh tokens that rotate, token revocation (RFC 7009)
// and a user endpoint that checks a bearer token. Access tokens live for a short, chosen time, so
// tests can watch a client refresh them. Git serves a repository over smart HTTP that only such a
// token opens; GitSSH serves one over SSH to the holder of one key.
package oauthtest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options configure a Server.
type Options struct {
	// ClientID and ClientSecret are the one client's credentials; defaults "hearth" and "hearth-secret".
	ClientID, ClientSecret string
	// AccessLifetime is how long an access token lasts; default one hour.
	AccessLifetime time.Duration
	// Login is the account's name, as the user endpoint reports it; default "octocat".
	Login string
}

// Server is a running authorization server.
type Server struct {
	URL  string
	opts Options

	mu      sync.Mutex
	codes   map[string]codeGrant
	access  map[string]time.Time // token → expiry
	refresh map[string]bool      // refresh token → usable
	devices map[string]*device   // device code → grant
	issued  map[string]bool      // hex SHA-256 of every access token issued

	// Garbage makes the token endpoint answer 200 with a body that is no token response.
	Garbage atomic.Bool
	// Refreshes counts refresh-token grants answered with a token; Revocations, tokens revoked.
	Refreshes, Revocations atomic.Int64
}

type codeGrant struct {
	challenge, redirect string
	expires             time.Time
}

type device struct {
	userCode string
	approved bool
	expires  time.Time
}

// New starts a server that stops with the test.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.ClientID == "" {
		opts.ClientID, opts.ClientSecret = "hearth", "hearth-secret"
	}
	if opts.AccessLifetime == 0 {
		opts.AccessLifetime = time.Hour
	}
	if opts.Login == "" {
		opts.Login = "octocat"
	}
	s := &Server{opts: opts, codes: map[string]codeGrant{}, access: map[string]time.Time{}, refresh: map[string]bool{}, devices: map[string]*device{}, issued: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", s.consent)
	mux.HandleFunc("POST /authorize", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /device/code", s.deviceCode)
	mux.HandleFunc("POST /device", s.approveDevice)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("GET /user", s.user)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// ClientID and ClientSecret are the client's credentials.
func (s *Server) ClientID() string     { return s.opts.ClientID }
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// Valid reports whether token is an access token the server issued that has not expired or been revoked.
func (s *Server) Valid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.access[token]
	return ok && time.Now().Before(exp)
}

// Issued reports whether the server ever issued the access token whose SHA-256 is sum (hex), so a
// test can check a token it may only see hashed.
func (s *Server) Issued(sum string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued[sum]
}

// RevokeAll revokes every token, as a user withdrawing the app's access at the provider does.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.access)
	clear(s.refresh)
}

// ApproveDevice approves the device grant a user code belongs to, as its user would on the provider's page.
func (s *Server) ApproveDevice(userCode string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.userCode == userCode {
			d.approved = true
			return true
		}
	}
	return false
}

// consent is the page a user approves the client on; its button posts the request back.
func (s *Server) consent(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.ClientID || q.Get("response_type") != "code" || q.Get("redirect_uri") == "" {
		http.Error(w, "unknown client or malformed request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var fields string
	for k := range q {
		fields += fmt.Sprintf(`<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(q.Get(k)))
	}
	fmt.Fprintf(w, `<!doctype html><title>Authorize</title><h1>Authorize %s?</h1><p>Signed in as %s; scopes: %s</p>
<form method="post" action="/authorize">%s<button type="submit">Authorize</button></form>`,
		html.EscapeString(s.opts.ClientID), html.EscapeString(s.opts.Login), html.EscapeString(q.Get("scope")), fields)
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("client_id") != s.opts.ClientID {
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(r.Form.Get("redirect_uri"))
	if err != nil || redirect.Host == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	s.mu.Lock()
	s.codes[code] = codeGrant{challenge: r.Form.Get("code_challenge"), redirect: redirect.String(), expires: time.Now().Add(time.Minute)}
	s.mu.Unlock()
	q := redirect.Query()
	q.Set("code", code)
	q.Set("state", r.Form.Get("state"))
	redirect.RawQuery = q.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.Form.Get("client_id"), r.Form.Get("client_secret")
	}
	if id != s.opts.ClientID || secret != s.opts.ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if s.Garbage.Load() {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"surprise": [1, 2, 3]}`))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Form.Get("grant_type") {
	case "authorization_code":
		g, ok := s.codes[r.Form.Get("code")]
		delete(s.codes, r.Form.Get("code"))
		if !ok || time.Now().After(g.expires) || g.redirect != r.Form.Get("redirect_uri") {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		if g.challenge != "" {
			sum := sha256.Sum256([]byte(r.Form.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
				oauthError(w, http.StatusBadRequest, "invalid_grant")
				return
			}
		}
	case "refresh_token":
		rt := r.Form.Get("refresh_token")
		if !s.refresh[rt] {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(s.refresh, rt) // rotated: each refresh token works once
		s.Refreshes.Add(1)
	case "urn:ietf:params:oauth:grant-type:device_code":
		d, ok := s.devices[r.Form.Get("device_code")]
		switch {
		case !ok:
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		case time.Now().After(d.expires):
			oauthError(w, http.StatusBadRequest, "expired_token")
			return
		case !d.approved:
			oauthError(w, http.StatusBadRequest, "authorization_pending")
			return
		}
		delete(s.devices, r.Form.Get("device_code"))
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	access, refresh := "gho_"+rand.Text(), "ghr_"+rand.Text()
	s.access[access] = time.Now().Add(s.opts.AccessLifetime)
	sum := sha256.Sum256([]byte(access))
	s.issued[hex.EncodeToString(sum[:])] = true
	s.refresh[refresh] = true
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": access, "token_type": "bearer", "refresh_token": refresh,
		"expires_in": int(s.opts.AccessLifetime.Seconds()), "scope": "repo"})
}

func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("client_id") != s.opts.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	code, user := rand.Text(), rand.Text()[:8]
	s.mu.Lock()
	s.devices[code] = &device{userCode: user, expires: time.Now().Add(5 * time.Minute)}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"device_code": code, "user_code": user, "verification_uri": s.URL + "/device",
		"expires_in": 300, "interval": 1})
}

func (s *Server) approveDevice(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !s.ApproveDevice(r.Form.Get("user_code")) {
		http.Error(w, "no such code", http.StatusNotFound)
		return
	}
	_, _ = w.Write([]byte("approved\n"))
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if id, secret, ok := r.BasicAuth(); !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	tok := r.Form.Get("token")
	s.mu.Lock()
	_, a := s.access[tok]
	delete(s.access, tok)
	b := s.refresh[tok]
	delete(s.refresh, tok)
	s.mu.Unlock()
	if a || b {
		s.Revocations.Add(1)
	}
	w.WriteHeader(http.StatusOK) // RFC 7009: 200 whether or not the token was known
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	tok, ok := bearer(r)
	if !ok || !s.Valid(tok) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"login": s.opts.Login})
}

func bearer(r *http.Request) (string, bool) {
	const p = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) > len(p) && (h[:len(p)] == p || h[:len(p)] == "bearer ") {
		return h[len(p):], true
	}
	return "", false
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// Approve does what a user's browser does at the consent page of authURL (an authorization request
// to this server): it submits the form and returns where the server redirects, the client's
// callback with code and state.
func (s *Server) Approve(t testing.TB, authURL string) *url.URL {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.PostForm(s.URL+"/authorize", u.Query()) //nolint:noctx // a test helper
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	loc, err := res.Location()
	if err != nil {
		t.Fatalf("the consent form answered %s without a redirect", res.Status)
	}
	return loc
}
