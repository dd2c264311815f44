package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/api/app"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// The callers an app is opened by: nobody, dead tokens, a suspended user, the workspace's owner
// ("self"), another member and the deployment's owner.
var appCallers = []string{"none", "expired", "revoked", "suspended", "self", "member", "owner"}

// What opening an app answers. An app that is let through answers 502 here (its agent is not
// connected), so every other status is a refusal.
const (
	admitted   = http.StatusBadGateway
	mustSignIn = http.StatusUnauthorized
	isHidden   = http.StatusNotFound
	refused    = http.StatusForbidden
)

// The apps of the matrix's workspace, one per sharing level, and a command app.
const matrixApps = `[{"slug":"private","url":"http://127.0.0.1:1","share":"owner"},
	{"slug":"shared","url":"http://127.0.0.1:1","share":"authenticated"},
	{"slug":"open","url":"http://127.0.0.1:1","share":"public"},
	{"slug":"term","command":"htop","share":"authenticated"}]`

// TestAppAccessMatrix opens each app of a workspace, at its path and on its own host, as every
// caller, on a deployment with subdomain apps and one that allows shared path apps. A path app
// opens for its owner alone unless the operator allows sharing; a command app is its owner's alone
// whatever its sharing level; a subdomain app follows its sharing level.
func TestAppAccessMatrix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		sharing bool
		path    map[string][]int // per app, one status per caller in appCallers
	}{
		{name: "path apps, owner only", path: map[string][]int{
			"private": {mustSignIn, mustSignIn, mustSignIn, mustSignIn, admitted, isHidden, isHidden},
			"shared":  {mustSignIn, mustSignIn, mustSignIn, mustSignIn, admitted, refused, refused},
			"open":    {refused, refused, refused, refused, admitted, refused, refused},
			"term":    {mustSignIn, mustSignIn, mustSignIn, mustSignIn, http.StatusSeeOther, isHidden, isHidden},
		}},
		{name: "path apps shared (--dangerous-allow-path-app-sharing)", sharing: true, path: map[string][]int{
			"private": {mustSignIn, mustSignIn, mustSignIn, mustSignIn, admitted, isHidden, isHidden},
			"shared":  {mustSignIn, mustSignIn, mustSignIn, mustSignIn, admitted, admitted, admitted},
			"open":    {admitted, admitted, admitted, admitted, admitted, admitted, admitted},
			"term":    {mustSignIn, mustSignIn, mustSignIn, mustSignIn, http.StatusSeeOther, isHidden, isHidden},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newAppMatrix(t, tc.sharing)
			for slug, want := range tc.path {
				for i, caller := range appCallers {
					res := m.do(t, http.MethodGet, m.srv+"/@"+m.owner+"/"+m.workspace+"/apps/"+slug+"/", "", m.tokens[caller], "")
					require.Equal(t, want[i], res.StatusCode, "path app %s as %s: %s", slug, caller, res.body)
				}
			}
		})
	}

	// On its own host, an app follows its sharing level: authorize-app sends the browser on with a
	// ticket (303 to the app), to sign in (303 to /login), or answers 404.
	m := newAppMatrix(t, false)
	const ticket, login = "ticket", "login"
	for slug, want := range map[string][]string{
		"private": {login, login, login, login, ticket, "404", "404"},
		"shared":  {login, login, login, login, ticket, ticket, ticket},
		"open":    {ticket, ticket, ticket, ticket, ticket, ticket, ticket},
	} {
		for i, caller := range appCallers {
			res := m.authorize(t, slug, caller)
			got := res.status
			switch {
			case res.StatusCode == http.StatusSeeOther && strings.Contains(res.location, app.TicketParam+"="):
				got = ticket
			case res.StatusCode == http.StatusSeeOther && strings.HasPrefix(res.location, "/login"):
				got = login
			}
			require.Equal(t, want[i], got, "subdomain app %s as %s: %s", slug, caller, res.body)
		}
	}
}

// A ticket names the user and the session it was issued to: another user's session cannot use
// it, it stops with its session, a link's ticket works once, and altered or misdirected tickets
// are refused with a page that says so.
func TestAppTicketsAreBoundToTheirHolder(t *testing.T) {
	t.Parallel()
	m := newAppMatrix(t, true)
	shared := m.srv + "/@" + m.owner + "/" + m.workspace + "/apps/shared/"

	// The member's first visit earns a ticket cookie, which then lets requests in without a session.
	res := m.do(t, http.MethodGet, shared, "", m.tokens["member"], "")
	require.Equal(t, admitted, res.StatusCode, res.body)
	cookie := res.cookie(app.TicketCookie)
	require.NotEmpty(t, cookie)
	require.Equal(t, admitted, m.do(t, http.MethodGet, shared, cookie, "", "").StatusCode, "the ticket alone opens the app")

	// Copied into the deployment owner's browser, the member's ticket opens nothing, and is cleared.
	res = m.do(t, http.MethodGet, shared, cookie, "", m.tokens["owner"])
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	require.Contains(t, res.body, "issued to another user")
	require.Contains(t, res.Header.Values("Set-Cookie")[0], "Max-Age=0")

	// Misdirected and altered tickets.
	res = m.do(t, http.MethodGet, m.srv+"/@"+m.owner+"/"+m.workspace+"/apps/open/", cookie, "", "")
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a ticket for another app")
	require.Contains(t, res.body, "for another app")
	res = m.do(t, http.MethodGet, shared, cookie[:len(cookie)-4]+"AAAA", "", "")
	require.Equal(t, http.StatusForbidden, res.StatusCode, "an altered ticket")
	require.Contains(t, res.body, "not valid")

	// The member signs out (their session is revoked): the ticket stops with it.
	_, err := m.b.db.Pool.Exec(context.Background(), "DELETE FROM api_keys WHERE id = $1", m.keys["member"])
	require.NoError(t, err)
	m.b.auth.Forget(context.Background(), m.keys["member"])
	require.Equal(t, mustSignIn, m.do(t, http.MethodGet, shared, cookie, "", "").StatusCode, "the session ended")

	// The app stops being shared: another user's ticket stops opening it within the recheck
	// interval (5 s).
	res = m.do(t, http.MethodGet, shared, "", m.tokens["owner"], "")
	require.Equal(t, admitted, res.StatusCode, res.body)
	ownersCookie := res.cookie(app.TicketCookie)
	require.Equal(t, admitted, m.do(t, http.MethodGet, shared, ownersCookie, "", m.tokens["owner"]).StatusCode)
	_, err = m.b.db.Pool.Exec(context.Background(), `UPDATE workspace_agents SET apps = jsonb_set(apps, '{1,share}', '"owner"')`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return m.do(t, http.MethodGet, shared, ownersCookie, "", m.tokens["owner"]).StatusCode == isHidden
	}, 10*time.Second, 250*time.Millisecond, "unshared, the app closes to others")

	// A subdomain app's ticket in the address works once.
	ra := m.authorize(t, "open", "member")
	require.Equal(t, http.StatusSeeOther, ra.StatusCode, ra.body)
	first := m.do(t, http.MethodGet, ra.location, "", "", "")
	require.Equal(t, http.StatusSeeOther, first.StatusCode, first.body)
	require.NotContains(t, first.Header.Get("Location"), app.TicketParam, "the ticket leaves the address")
	again := m.do(t, http.MethodGet, ra.location, "", "", "")
	require.Equal(t, http.StatusUnauthorized, again.StatusCode)
	require.Contains(t, again.body, "used before")
	u, _ := url.Parse(ra.location)
	u.Host = "shared--main--" + m.workspace + "--" + m.owner + ".apps.localhost"
	res = m.do(t, http.MethodGet, u.String(), "", "", "")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "a ticket for another app's host")
	require.Contains(t, res.body, "not valid for this app")

	// Hosts that are no app's.
	for _, host := range []string{"nothing.apps.localhost", "a--b--c--d--e.apps.localhost", "files--main--dev--ada.example.com"} {
		res = m.do(t, http.MethodGet, "http://"+host+"/", "", "", "")
		require.Equal(t, http.StatusNotFound, res.StatusCode, host)
		require.Contains(t, res.body, "No app is served at", host)
	}
}

type appMatrix struct {
	b                     bundle
	srv, owner, workspace string
	tokens, keys          map[string]string
	client                *http.Client
}

// newAppMatrix is a server with subdomain apps under *.apps.localhost, a workspace of "self"'s
// with matrixApps, and a token for every caller.
func newAppMatrix(t *testing.T, sharing bool) *appMatrix {
	t.Helper()
	b := setupWith(t, func(d *Deps) {
		d.AppsHost = "*.apps.localhost"
		d.AllowPathAppSharing = sharing
	})
	w := &walker{b: b}
	later := time.Now().Add(time.Hour)
	m := &appMatrix{b: b, srv: b.srv.URL, tokens: map[string]string{}, keys: map[string]string{}}
	for _, caller := range appCallers {
		expires, roles := later, []string{}
		switch caller {
		case "none":
			continue
		case "expired":
			expires = time.Now().Add(-time.Minute)
		case "owner":
			roles = []string{"owner"}
		}
		u, k, token := w.user(t, roles, expires)
		m.tokens[caller], m.keys[caller] = token, k.ID
		ctx := context.Background()
		switch caller {
		case "revoked":
			_, err := b.db.DeleteAPIKey(ctx, dbsqlc.DeleteAPIKeyParams{ID: k.ID, UserID: u.ID})
			require.NoError(t, err)
		case "suspended":
			_, err := b.db.Pool.Exec(ctx, "UPDATE users SET status = 'suspended' WHERE id = $1", u.ID)
			require.NoError(t, err)
		case "self":
			f := w.fixture(t, u.ID)
			m.owner, m.workspace = u.Username, f.name
			_, err := b.db.Pool.Exec(ctx, "UPDATE workspace_agents SET apps = $1 WHERE id = $2", matrixApps, f.agent)
			require.NoError(t, err)
		}
	}
	// Every host reaches the test server, as a wildcard DNS record would.
	addr := strings.TrimPrefix(b.srv.URL, "http://")
	transport := http.DefaultTransport.(*http.Transport).Clone()
	dial := transport.DialContext
	transport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) { return dial(ctx, network, addr) }
	m.client = &http.Client{Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return m
}

type appResponse struct {
	*http.Response
	body, location, status string
}

func (r appResponse) cookie(name string) string {
	for _, c := range r.Cookies() {
		if c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// do sends a request without following redirects, with an app ticket cookie, a Bearer token and a
// session cookie as given (each may be empty).
func (m *appMatrix) do(t *testing.T, method, target, ticket, bearer, session string) appResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, target, nil)
	require.NoError(t, err)
	if ticket != "" {
		req.AddCookie(&http.Cookie{Name: app.TicketCookie, Value: ticket})
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "hearth_session", Value: session})
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := m.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return appResponse{Response: res, body: string(raw), location: res.Header.Get("Location"), status: strconv.Itoa(res.StatusCode)}
}

// authorize asks the dashboard to send caller on to a subdomain app, the way a browser arrives.
func (m *appMatrix) authorize(t *testing.T, slug, caller string) appResponse {
	t.Helper()
	appURL := "http://" + slug + "--main--" + m.workspace + "--" + m.owner + ".apps.localhost/"
	return m.do(t, http.MethodGet, m.srv+app.AuthorizePath+"?redirect_uri="+url.QueryEscape(appURL), "", "", m.tokens[caller])
}
