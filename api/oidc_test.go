package api

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/api/users"
)

// oidcSetup runs a real OIDC provider on loopback and a Hearth API that signs in with it.
func oidcSetup(t *testing.T, change func(*users.OIDCConfig)) (bundle, *mockoidc.MockOIDC) {
	t.Helper()
	m, err := mockoidc.Run()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, m.Shutdown()) })
	mc := m.Config()
	cfg := users.OIDCConfig{IssuerURL: mc.Issuer, ClientID: mc.ClientID, ClientSecret: mc.ClientSecret,
		Scopes: []string{"openid", "profile", "email"}, UsernameClaim: "preferred_username", EmailClaim: "email", AllowSignUp: true}
	if change != nil {
		change(&cfg)
	}
	return setupWith(t, func(d *Deps) { d.OIDC = &cfg }), m
}

// browser is an HTTP client with a cookie jar that follows redirects, as a browser would.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Jar: jar, Transport: tr}
}

// signIn walks the browser through the provider and back; it returns the last response's status and
// path, and the session cookie if one was set.
func signIn(t *testing.T, b bundle, c *http.Client) (int, string, string) {
	t.Helper()
	res, err := c.Get(b.srv.URL + "/api/v2/users/oidc/login?redirect=/workspaces")
	require.NoError(t, err)
	res.Body.Close()
	base, _ := url.Parse(b.srv.URL)
	for _, k := range c.Jar.Cookies(base) {
		if k.Name == users.CookieName {
			return res.StatusCode, res.Request.URL.Path, k.Value
		}
	}
	return res.StatusCode, res.Request.URL.Path, ""
}

func TestOIDCSignInCreatesThenFindsTheUser(t *testing.T) {
	t.Parallel()
	b, m := oidcSetup(t, nil)
	owner(t, b)
	grace := &mockoidc.MockUser{Subject: "sub-grace", Email: "grace@example.com", PreferredUsername: "Grace.Hopper", EmailVerified: true}
	m.QueueUser(grace)
	_, path, session := signIn(t, b, browser(t))
	require.Equal(t, "/workspaces", path, "back where sign-in began")
	require.NotEmpty(t, session)
	res, me := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+session)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "grace-hopper", me["username"])
	require.Equal(t, []any{"oidc"}, me["login_types"])
	require.Empty(t, me["roles"], "new users are members")

	// The same identity signs in as the same user, even with a new username claim.
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-grace", Email: "grace@example.com", PreferredUsername: "gh", EmailVerified: true})
	_, _, session = signIn(t, b, browser(t))
	_, again := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+session)
	require.Equal(t, me["id"], again["id"])

	// An existing user with the verified email is linked, not duplicated.
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-ada", Email: "ADA@example.com", PreferredUsername: "someone", EmailVerified: true})
	_, _, session = signIn(t, b, browser(t))
	_, ada := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+session)
	require.Equal(t, "ada", ada["username"])
	require.ElementsMatch(t, []any{"password", "oidc"}, ada["login_types"])

	// A second person whose username claim is taken gets a numbered one.
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-other", Email: "other@example.com", PreferredUsername: "grace-hopper", EmailVerified: true})
	_, _, session = signIn(t, b, browser(t))
	_, other := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+session)
	require.Equal(t, "grace-hopper-2", other["username"])

	var n int
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), "SELECT count(*) FROM audit_log WHERE action = 'oidc-callback' AND result = 'success'").Scan(&n))
	require.Equal(t, 6, n, "each sign-in, and each user created, is audited")
}

func TestOIDCRefusals(t *testing.T) {
	t.Parallel()
	b, m := oidcSetup(t, func(c *users.OIDCConfig) { c.AllowedDomains = []string{"corp.example"} })

	m.QueueUser(&mockoidc.MockUser{Subject: "s1", Email: "eve@example.com", PreferredUsername: "eve", EmailVerified: true})
	status, _, session := signIn(t, b, browser(t))
	require.Equal(t, http.StatusForbidden, status)
	require.Empty(t, session)

	m.QueueUser(unverified{&mockoidc.MockUser{Subject: "s2", Email: "eve@corp.example", PreferredUsername: "eve"}})
	status, _, session = signIn(t, b, browser(t))
	require.Equal(t, http.StatusForbidden, status, "unverified email")
	require.Empty(t, session)

	// A callback that this browser did not start is refused, whatever its code.
	res, p := call(t, "GET", b.srv.URL+"/api/v2/users/oidc/callback?code=x&state=forged", "")
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Equal(t, "query.state", firstLocation(p))

	// Redirects stay on this deployment: the browser stops at the callback's answer.
	m.QueueUser(&mockoidc.MockUser{Subject: "s3", Email: "ok@corp.example", PreferredUsername: "ok", EmailVerified: true})
	c := browser(t)
	c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.Path, "/api/v2/users/oidc/") || r.URL.Path == mockoidc.AuthorizationEndpoint {
			return nil
		}
		return http.ErrUseLastResponse
	}
	res, err := c.Get(b.srv.URL + "/api/v2/users/oidc/login?redirect=" + url.QueryEscape("//evil.example/x"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/api/v2/users/oidc/callback", res.Request.URL.Path)
	require.Equal(t, "/", res.Header.Get("Location"))
}

func TestOIDCOffByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, p := call(t, "GET", b.srv.URL+"/api/v2/users/auth-methods", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, false, p["oidc"])
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/users/oidc/login", "")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// unverified is a user whose provider says, explicitly, that the email address is not verified.
type unverified struct{ *mockoidc.MockUser }

func (u unverified) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return struct {
		*mockoidc.IDTokenClaims
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
	}{base, u.Email, false}, nil
}

// The OIDC access token of a user's latest sign-in reaches their templates (oidc_access_token),
// and is stored sealed.
func TestOIDCAccessTokenReachesTemplates(t *testing.T) {
	t.Parallel()
	b, m := oidcSetup(t, nil)
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	startWorker(t, b, "w1")
	root := t.TempDir()
	pushTemplate(t, b, admin, "testdata/owner", "owner", root)
	m.QueueUser(&mockoidc.MockUser{Subject: "sub-grace", Email: "grace@example.com", PreferredUsername: "grace", EmailVerified: true})
	_, _, session := signIn(t, b, browser(t))
	grace := []string{"Authorization", "Bearer " + session}
	res, ws := call(t, "POST", b.srv.URL+"/api/v2/workspaces", `{"name":"g","template":"owner"}`, grace...)
	require.Equal(t, http.StatusCreated, res.StatusCode, ws)
	require.Equal(t, "succeeded", waitBuild(t, b, grace, ws["latest_build"].(map[string]any)["id"].(string))["status"])
	raw, err := os.ReadFile(filepath.Join(root, "g", "oidc_access_token"))
	require.NoError(t, err)
	claims := jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(string(raw), claims)
	require.NoError(t, err, "the provider's access token: %q", raw)
	require.Equal(t, "sub-grace", claims["sub"])
	login, err := os.ReadFile(filepath.Join(root, "g", "login_type"))
	require.NoError(t, err)
	require.Equal(t, "oidc", string(login))
	var sealed []byte
	require.NoError(t, b.db.Pool.QueryRow(t.Context(), "SELECT access_token_sealed FROM user_oidc_tokens").Scan(&sealed))
	require.NotContains(t, string(sealed), string(raw))
}

// The groups claim decides the user's OIDC memberships at each sign-in: mapped, filtered, made when
// missing if asked to; a membership added by hand stays when the claim drops the group.
func TestOIDCGroupsClaimSyncsMemberships(t *testing.T) {
	t.Parallel()
	b, m := oidcSetup(t, func(c *users.OIDCConfig) {
		c.Scopes = append(c.Scopes, "groups")
		c.GroupField = "groups"
		c.GroupMapping = map[string]string{"Platform Team": "platform"}
		c.GroupFilter = regexp.MustCompile(`^(Platform Team|dev.*|ops)$`)
		c.GroupAutoCreate = true
	})
	admin := []string{"Authorization", "Bearer " + owner(t, b)}
	res, p := call(t, "POST", b.srv.URL+"/api/v2/groups", `{"name":"ops"}`, admin...)
	require.Equal(t, http.StatusCreated, res.StatusCode, p)
	groupsOf := func(session string) []string {
		_, me := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+session)
		var names []string
		_, list := call(t, "GET", b.srv.URL+"/api/v2/groups", "", admin...)
		for _, g := range list["groups"].([]any) {
			name := g.(map[string]any)["name"].(string)
			_, full := call(t, "GET", b.srv.URL+"/api/v2/groups/"+name, "", admin...)
			members, _ := full["members"].([]any)
			for _, mem := range members {
				if mem.(map[string]any)["id"] == me["id"] {
					names = append(names, name+"/"+mem.(map[string]any)["source"].(string))
				}
			}
		}
		return names
	}

	grace := &mockoidc.MockUser{Subject: "sub-grace", Email: "grace@example.com", PreferredUsername: "grace", EmailVerified: true,
		Groups: []string{"Platform Team", "developers", "Not Allowed", "ops"}}
	m.QueueUser(grace)
	_, _, session := signIn(t, b, browser(t))
	require.NotEmpty(t, session)
	require.Equal(t, []string{"developers/oidc", "ops/oidc", "platform/oidc"}, groupsOf(session), "mapped, filtered, auto-created")

	// A user admin adds grace to ops by hand; the next sign-in's claim no longer names ops or developers.
	res, p = call(t, "PATCH", b.srv.URL+"/api/v2/groups/ops", `{"add_members":["grace"]}`, admin...)
	require.Equal(t, http.StatusOK, res.StatusCode, p)
	grace.Groups = []string{"Platform Team"}
	m.QueueUser(grace)
	_, _, session = signIn(t, b, browser(t))
	require.Equal(t, []string{"ops/manual", "platform/oidc"}, groupsOf(session))
}
