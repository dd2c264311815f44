package api

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/oauthtest"
	"github.com/hearthdev/hearth/internal/seal"
)

// withProvider is setup with one external auth provider, "test", on a real OAuth server.
func withProvider(t *testing.T, device bool) (bundle, *oauthtest.Server) {
	t.Helper()
	srv := oauthtest.New(t, oauthtest.Options{})
	env := []string{"HEARTH_EXTERNAL_AUTH_0_ID=test", "HEARTH_EXTERNAL_AUTH_0_TYPE=oauth2", "HEARTH_EXTERNAL_AUTH_0_DISPLAY_NAME=Test Git",
		"HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=" + srv.ClientID(), "HEARTH_EXTERNAL_AUTH_0_CLIENT_SECRET=" + srv.ClientSecret(),
		"HEARTH_EXTERNAL_AUTH_0_AUTH_URL=" + srv.URL + "/authorize", "HEARTH_EXTERNAL_AUTH_0_TOKEN_URL=" + srv.URL + "/token",
		"HEARTH_EXTERNAL_AUTH_0_REVOKE_URL=" + srv.URL + "/revoke"}
	if device {
		env = append(env, "HEARTH_EXTERNAL_AUTH_0_DEVICE_FLOW=true", "HEARTH_EXTERNAL_AUTH_0_DEVICE_CODE_URL="+srv.URL+"/device/code")
	}
	ps, err := externalauth.Load("", env)
	require.NoError(t, err)
	b := setupWith(t, func(d *Deps) {
		boxes, err := seal.NewBoxes(make([]byte, 32))
		require.NoError(t, err)
		d.ExternalAuth = externalauth.NewLinks(d.DB, boxes.ExternalAuth, ps, d.Logger)
	})
	return b, srv
}

// signedInBrowser is a signed-in browser: a cookie jar with the session, redirects not followed.
func signedInBrowser(t *testing.T, b bundle, token string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	u, _ := url.Parse(b.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "hearth_session", Value: token, Path: "/"}})
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func visit(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u) //nolint:noctx // a test
	require.NoError(t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// Linking in the browser: the dashboard's Link goes to the provider (with PKCE), whose answer comes
// back to the callback and is stored for the user who started it. An answer that did not start in
// this browser, a code redeemed with another link's verifier and a provider answering garbage link
// nothing and leak nothing; unlinking revokes the tokens at the provider.
func TestLinkingAnAccountInTheBrowser(t *testing.T) {
	t.Parallel()
	b, srv := withProvider(t, false)
	token := owner(t, b)
	ada := []string{"Authorization", "Bearer " + token}
	c := signedInBrowser(t, b, token)

	start := func(c *http.Client) *url.URL {
		res, body := visit(t, c, b.srv.URL+"/api/v2/external-auth/test/login")
		require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
		to, err := res.Location()
		require.NoError(t, err)
		require.Equal(t, "S256", to.Query().Get("code_challenge_method"))
		require.Equal(t, b.srv.URL+"/api/v2/external-auth/test/callback", to.Query().Get("redirect_uri"))
		return to
	}
	linked := func() bool {
		_, p := call(t, "GET", b.srv.URL+"/api/v2/external-auth/test", "", ada...)
		return p["linked"] == true
	}

	// An answer from the provider for a link this browser did not start.
	back := srv.Approve(t, start(c).String())
	res, body := visit(t, signedInBrowser(t, b, token), back.String())
	require.Equal(t, http.StatusBadRequest, res.StatusCode, body)
	require.Contains(t, body, "did not start in this browser")
	// A code the provider issued for one link, brought back with another link's state (and so its
	// PKCE verifier): the provider refuses to redeem it.
	other := start(c)
	q := back.Query()
	q.Set("state", other.Query().Get("state"))
	back.RawQuery = q.Encode()
	res, body = visit(t, c, back.String())
	require.Equal(t, http.StatusBadRequest, res.StatusCode, body)
	require.Contains(t, body, "Test Git refused the code exchange (invalid_grant)")
	// A provider answering garbage.
	srv.Garbage.Store(true)
	res, body = visit(t, c, srv.Approve(t, start(c).String()).String())
	require.Equal(t, http.StatusBadGateway, res.StatusCode, body)
	require.Contains(t, body, "did not answer the code exchange properly")
	srv.Garbage.Store(false)
	require.False(t, linked(), "nothing was stored by the failed attempts")

	res, body = visit(t, c, srv.Approve(t, start(c).String()).String())
	require.Equal(t, http.StatusSeeOther, res.StatusCode, body)
	require.Equal(t, "/external-auth/test", res.Header.Get("Location"))
	require.True(t, linked())
	_, list := call(t, "GET", b.srv.URL+"/api/v2/external-auth", "", ada...)
	require.Len(t, list["providers"], 1)
	require.Equal(t, b.srv.URL+"/external-auth/test", list["providers"].([]any)[0].(map[string]any)["link_url"])

	res, p := call(t, "DELETE", b.srv.URL+"/api/v2/external-auth/test", "", ada...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	require.Equal(t, true, p["revoked"])
	require.EqualValues(t, 2, srv.Revocations.Load(), "the access and refresh tokens were revoked")
	require.False(t, linked())
	res, p = call(t, "DELETE", b.srv.URL+"/api/v2/external-auth/test", "", ada...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p)
	res, p = call(t, "GET", b.srv.URL+"/api/v2/external-auth/nope", "", ada...)
	require.Equal(t, http.StatusNotFound, res.StatusCode, p)

	// The audit log has the link and the unlink, and no token.
	var entries string
	require.NoError(t, b.db.Pool.QueryRow(context.Background(),
		"SELECT coalesce(string_agg(action || ' ' || status::text || ' ' || diff::text, E'\\n'), '') FROM audit_log WHERE resource_type = 'external_auth_link'").Scan(&entries))
	require.Contains(t, entries, "external-auth-callback 303")
	require.Contains(t, entries, "unlink-external-auth 200")
	require.NotContains(t, entries, "gho_")
	require.NotContains(t, entries, "ghr_")
}

// Linking from the CLI with a device code: pending until the user approves at the provider, then
// linked; deleting the user revokes the link's tokens.
func TestLinkingWithADeviceCode(t *testing.T) {
	t.Parallel()
	b, srv := withProvider(t, true)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	bob := newUser(t, b, admin, "bob")
	res, dc := call(t, "POST", b.srv.URL+"/api/v2/external-auth/test/device", "", bob...)
	require.Equal(t, http.StatusOK, res.StatusCode, dc)
	body := `{"device_code":"` + dc["device_code"].(string) + `"}`
	res, p := call(t, "POST", b.srv.URL+"/api/v2/external-auth/test/device/token", body, bob...)
	require.Equal(t, http.StatusAccepted, res.StatusCode, p)
	require.True(t, srv.ApproveDevice(dc["user_code"].(string)))
	res, p = call(t, "POST", b.srv.URL+"/api/v2/external-auth/test/device/token", body, bob...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)
	require.Equal(t, true, p["linked"])
	res, p = call(t, "POST", b.srv.URL+"/api/v2/external-auth/test/device/token", body, bob...)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "a device code works once: %v", p)

	res, p = call(t, "DELETE", b.srv.URL+"/api/v2/users/bob", "", admin...)
	require.Equal(t, http.StatusNoContent, res.StatusCode, p)
	require.EqualValues(t, 2, srv.Revocations.Load(), "deleting the user revoked its link's tokens")
}
