package externalauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Provider is a configured external auth provider.
type Provider struct {
	ID, Type, DisplayName string
	// Regex matches the Git URLs its tokens serve (nil: none).
	Regex *regexp.Regexp
	// DeviceFlow: users link with a code typed on the provider's page (the CLI's way).
	DeviceFlow bool
	cfg        Config
	http       *http.Client

	mu         sync.Mutex
	discovered bool
}

func newProvider(c Config, re *regexp.Regexp) *Provider {
	return &Provider{ID: c.ID, Type: c.Type, DisplayName: c.DisplayName, Regex: re, DeviceFlow: c.DeviceFlow, cfg: c,
		http: &http.Client{Timeout: 15 * time.Second}}
}

// ProviderError is a provider that did not answer as OAuth says: down, refusing or talking nonsense.
// Its message names the provider and the step, never a token or the provider's body.
type ProviderError struct {
	Provider, Step string
	// Code is the OAuth error code the provider gave, if any (invalid_grant, access_denied…).
	Code string
	err  error
}

func (e *ProviderError) Error() string {
	msg := e.Provider + ": " + e.Step
	if e.Code != "" {
		msg += ": the provider answered " + e.Code
	} else if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *ProviderError) Unwrap() error { return e.err }

// endpoints discovers an OIDC provider's endpoints once (lazily: a provider that is down at start-up
// delays only its own links).
func (p *Provider) endpoints(ctx context.Context) error {
	if p.cfg.Type != "oidc" || p.cfg.IssuerURL == "" {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.discovered {
		return nil
	}
	u := strings.TrimSuffix(p.cfg.IssuerURL, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &ProviderError{Provider: p.ID, Step: "discovery", err: err}
	}
	res, err := p.http.Do(req)
	if err != nil {
		return &ProviderError{Provider: p.ID, Step: "discovery", err: errors.New("unreachable")}
	}
	defer res.Body.Close()
	var doc struct {
		Auth   string `json:"authorization_endpoint"`
		Token  string `json:"token_endpoint"`
		Device string `json:"device_authorization_endpoint"`
		Revoke string `json:"revocation_endpoint"`
		User   string `json:"userinfo_endpoint"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&doc) != nil || doc.Auth == "" || doc.Token == "" {
		return &ProviderError{Provider: p.ID, Step: "discovery", err: fmt.Errorf("%s did not answer with an OpenID configuration (%s)", u, res.Status)}
	}
	fill := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	fill(&p.cfg.AuthURL, doc.Auth)
	fill(&p.cfg.TokenURL, doc.Token)
	fill(&p.cfg.DeviceCodeURL, doc.Device)
	fill(&p.cfg.RevokeURL, doc.Revoke)
	fill(&p.cfg.ValidateURL, doc.User)
	p.discovered = true
	return nil
}

// AuthCodeURL is where a browser goes to grant access; the provider sends it back to redirect with
// state and a code that only verifier redeems (PKCE).
func (p *Provider) AuthCodeURL(ctx context.Context, redirect, state, verifier string) (string, error) {
	if err := p.endpoints(ctx); err != nil {
		return "", err
	}
	c := oauth2.Config{ClientID: p.cfg.ClientID, Endpoint: oauth2.Endpoint{AuthURL: p.cfg.AuthURL}, RedirectURL: redirect, Scopes: p.cfg.Scopes}
	return c.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.S256ChallengeOption(verifier)), nil
}

// Grant is what a token endpoint gave.
type Grant struct {
	AccessToken, RefreshToken string
	// Expiry is when the access token stops working; zero: it does not say.
	Expiry time.Time
}

// Exchange redeems an authorization code.
func (p *Provider) Exchange(ctx context.Context, redirect, code, verifier string) (Grant, error) {
	return p.tokenRequest(ctx, "code exchange", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirect}, "code_verifier": {verifier}})
}

// Refresh trades a refresh token for a new access token (and, with most providers, a new refresh token).
func (p *Provider) Refresh(ctx context.Context, refreshToken string) (Grant, error) {
	g, err := p.tokenRequest(ctx, "refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	if err == nil && g.RefreshToken == "" {
		g.RefreshToken = refreshToken // not rotated
	}
	return g, err
}

// DeviceCode is a device authorization: the user opens VerificationURI and types UserCode.
type DeviceCode struct {
	DeviceCode      string `json:"device_code"`
	UserCode        string `json:"user_code"`
	VerificationURI string `json:"verification_uri"`
	ExpiresIn       int    `json:"expires_in"`
	Interval        int    `json:"interval"`
}

// StartDevice begins a device authorization.
func (p *Provider) StartDevice(ctx context.Context) (DeviceCode, error) {
	var dc DeviceCode
	if err := p.endpoints(ctx); err != nil {
		return dc, err
	}
	if !p.DeviceFlow || p.cfg.DeviceCodeURL == "" {
		return dc, &ProviderError{Provider: p.ID, Step: "device authorization", err: errors.New("the device flow is not configured for this provider")}
	}
	form := url.Values{"client_id": {p.cfg.ClientID}, "scope": {strings.Join(p.cfg.Scopes, " ")}}
	body, status, err := p.post(ctx, p.cfg.DeviceCodeURL, form, false)
	if err != nil {
		return dc, &ProviderError{Provider: p.ID, Step: "device authorization", err: err}
	}
	vals := decode(body)
	if status != http.StatusOK || vals.Get("device_code") == "" || vals.Get("user_code") == "" {
		return dc, &ProviderError{Provider: p.ID, Step: "device authorization", Code: vals.Get("error"), err: fmt.Errorf("no device code in the answer (HTTP %d)", status)}
	}
	dc.DeviceCode, dc.UserCode = vals.Get("device_code"), vals.Get("user_code")
	dc.VerificationURI = vals.Get("verification_uri")
	if dc.VerificationURI == "" {
		dc.VerificationURI = vals.Get("verification_url") // Google's spelling
	}
	dc.ExpiresIn, _ = strconv.Atoi(vals.Get("expires_in"))
	dc.Interval, _ = strconv.Atoi(vals.Get("interval"))
	if dc.Interval <= 0 {
		dc.Interval = 5
	}
	return dc, nil
}

// ErrPending means the user has not finished a device authorization yet: ask again after the interval.
var ErrPending = errors.New("the device authorization is not approved yet")

// PollDevice asks once whether a device authorization was approved.
func (p *Provider) PollDevice(ctx context.Context, deviceCode string) (Grant, error) {
	g, err := p.tokenRequest(ctx, "device authorization", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode}, "client_id": {p.cfg.ClientID}})
	var pe *ProviderError
	if errors.As(err, &pe) && (pe.Code == "authorization_pending" || pe.Code == "slow_down") {
		return g, ErrPending
	}
	return g, err
}

// Revoke withdraws a token at the provider (RFC 7009, or GitHub's grant deletion, which ends the
// whole authorization). A provider without a revocation endpoint is told nothing.
func (p *Provider) Revoke(ctx context.Context, token string) error {
	if err := p.endpoints(ctx); err != nil {
		return err
	}
	u := p.cfg.RevokeURL
	if u == "" || token == "" {
		return nil
	}
	var req *http.Request
	var err error
	if strings.Contains(u, "{client_id}") { // GitHub: DELETE /applications/{client_id}/grant
		body, _ := json.Marshal(map[string]string{"access_token": token})
		req, err = http.NewRequestWithContext(ctx, http.MethodDelete, strings.ReplaceAll(u, "{client_id}", url.PathEscape(p.cfg.ClientID)), bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(url.Values{"token": {token}}.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return &ProviderError{Provider: p.ID, Step: "revocation", err: err}
	}
	req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	req.Header.Set("Accept", "application/json")
	res, err := p.http.Do(req)
	if err != nil {
		return &ProviderError{Provider: p.ID, Step: "revocation", err: errors.New("unreachable")}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	_ = res.Body.Close()
	if res.StatusCode >= 300 && res.StatusCode != http.StatusNotFound {
		return &ProviderError{Provider: p.ID, Step: "revocation", err: fmt.Errorf("HTTP %d", res.StatusCode)}
	}
	return nil
}

// tokenRequest posts to the token endpoint and reads a token response, JSON or form-encoded (GitHub
// answers the latter to clients that do not ask for JSON). Errors carry the OAuth error code, never
// the body.
func (p *Provider) tokenRequest(ctx context.Context, step string, form url.Values) (Grant, error) {
	if err := p.endpoints(ctx); err != nil {
		return Grant{}, err
	}
	body, status, err := p.post(ctx, p.cfg.TokenURL, form, true)
	if err != nil {
		return Grant{}, &ProviderError{Provider: p.ID, Step: step, err: err}
	}
	vals := decode(body)
	if code := vals.Get("error"); code != "" || status != http.StatusOK {
		return Grant{}, &ProviderError{Provider: p.ID, Step: step, Code: code, err: fmt.Errorf("HTTP %d", status)}
	}
	g := Grant{AccessToken: vals.Get("access_token"), RefreshToken: vals.Get("refresh_token")}
	if g.AccessToken == "" {
		return Grant{}, &ProviderError{Provider: p.ID, Step: step, err: errors.New("the answer has no access token")}
	}
	if s, err := strconv.ParseFloat(vals.Get("expires_in"), 64); err == nil && s > 0 {
		g.Expiry = time.Now().Add(time.Duration(s * float64(time.Second)))
	}
	if p.cfg.NoRefresh {
		g.RefreshToken = ""
	}
	return g, nil
}

// post sends a form with the client's credentials (in the body for GitHub and Gitea, which want
// them there; as basic auth otherwise) and returns at most 1 MiB of the answer.
func (p *Provider) post(ctx context.Context, endpoint string, form url.Values, authenticate bool) ([]byte, int, error) {
	inBody := p.Type == "github" || p.Type == "gitea"
	if authenticate && inBody {
		form.Set("client_id", p.cfg.ClientID)
		form.Set("client_secret", p.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if authenticate && !inBody {
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	res, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, errors.New("unreachable")
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, 0, errors.New("the answer broke off")
	}
	if ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" || ct == "text/plain" {
		if v, err := url.ParseQuery(string(body)); err == nil {
			return []byte(v.Encode()), res.StatusCode, nil
		}
	}
	return body, res.StatusCode, nil
}

// decode reads a JSON object's scalar members, or a form, as values.
func decode(body []byte) url.Values {
	out := url.Values{}
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil {
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				out.Set(k, v)
			case float64:
				out.Set(k, strconv.FormatFloat(v, 'f', -1, 64))
			case bool:
				out.Set(k, strconv.FormatBool(v))
			}
		}
		return out
	}
	if v, err := url.ParseQuery(string(body)); err == nil {
		return v
	}
	return out
}

// Revocable reports whether unlinking can revoke the provider's tokens (it has a revocation endpoint).
func (p *Provider) Revocable() bool { return p.cfg.RevokeURL != "" }
