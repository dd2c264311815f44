package api

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A change authenticated by the session cookie is taken only from the dashboard's own origin: a
// page of any other origin (a subdomain app, a sandboxed path app, another site) is refused even
// when the browser sends the cookie along. A token is not ambient, so it is taken from anywhere.
func TestCookieChangesNeedTheDashboardsOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := &walker{b: b}
	u, _, token := w.user(t, []string{}, time.Now().Add(time.Hour))
	create := b.srv.URL + "/api/v2/users/" + u.Username + "/tokens"
	cookie := "hearth_session=" + token
	for _, tc := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"from the dashboard", []string{"Cookie", cookie, "Hearth-Csrf", "1", "Origin", b.srv.URL}, http.StatusCreated},
		{"from no browser page (no Origin)", []string{"Cookie", cookie, "Hearth-Csrf", "1"}, http.StatusCreated},
		{"from a subdomain app", []string{"Cookie", cookie, "Hearth-Csrf", "1", "Origin", "http://files--main--dev--ada.apps.localhost"}, http.StatusForbidden},
		{"from a sandboxed page", []string{"Cookie", cookie, "Hearth-Csrf", "1", "Origin", "null"}, http.StatusForbidden},
		{"without the CSRF header", []string{"Cookie", cookie, "Origin", b.srv.URL}, http.StatusForbidden},
		{"with a token, from anywhere", []string{"Authorization", "Bearer " + token, "Origin", "http://elsewhere.example"}, http.StatusCreated},
	} {
		res, p := call(t, http.MethodPost, create, `{"name":"`+w.name("t")+`"}`, tc.headers...)
		require.Equal(t, tc.want, res.StatusCode, "%s: %v", tc.name, p)
		if tc.want == http.StatusForbidden && len(tc.headers) > 4 {
			require.Contains(t, p["detail"], "dashboard's own origin", tc.name)
		}
	}
}

// Every dashboard and API response, errors included, forbids sniffing and framing and sends no
// referrer to other origins.
func TestResponsesCarrySecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/api/v2/health", "/api/v2/nothing", "/api/v2/users/me", "/api/v2/docs", "/healthz"} {
		res, _ := call(t, http.MethodGet, b.srv.URL+path, "")
		h := res.Header
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"), path)
		require.Equal(t, "DENY", h.Get("X-Frame-Options"), path)
		require.Equal(t, "same-origin", h.Get("Referrer-Policy"), path)
		require.Equal(t, "same-origin", h.Get("Cross-Origin-Opener-Policy"), path)
		require.Contains(t, h.Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
		require.NotContains(t, h.Get("Content-Security-Policy"), "script-src 'unsafe-inline'", path)
	}
}

// One rule for every JSON body: application/json, a +json type or no Content-Type at all is JSON;
// another type (what curl -d sends by default) is refused with a message that says how to send it.
func TestJSONBodiesFollowOneRule(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := &walker{b: b}
	u, _, token := w.user(t, []string{}, time.Now().Add(time.Hour))
	create := b.srv.URL + "/api/v2/users/" + u.Username + "/tokens"
	for ct, want := range map[string]int{
		"":                                  http.StatusCreated,
		"application/json":                  http.StatusCreated,
		"application/merge-patch+json":      http.StatusCreated,
		"application/x-www-form-urlencoded": http.StatusUnsupportedMediaType,
		"text/plain":                        http.StatusUnsupportedMediaType,
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, create, strings.NewReader(`{"name":"`+w.name("t")+`"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		require.Equal(t, want, res.StatusCode, "%q: %s", ct, body)
		if want == http.StatusUnsupportedMediaType {
			require.Contains(t, string(body), "Content-Type: application/json", ct)
		}
	}
}
