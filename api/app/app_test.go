package app

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseHost(t *testing.T) {
	p := New(Deps{AppsHost: "*.apps.example.com"})
	f, ok := p.parseHost("Files--main--dev--ada.apps.example.com:3000")
	require.True(t, ok)
	require.Equal(t, ref{slug: "files", agent: "main", workspace: "dev", owner: "ada", prefix: "/",
		subject: "//files--main--dev--ada.apps.example.com", host: "files--main--dev--ada.apps.example.com"}, f)

	f, ok = p.parseHost("files--dev--ada.apps.example.com")
	require.True(t, ok, "the agent may be left out")
	require.Equal(t, "", f.agent)

	for _, host := range []string{
		"apps.example.com", "x.apps.example.com", "files--dev.apps.example.com", "a--b--c--d--e.apps.example.com",
		"files----dev--ada.apps.example.com", "files--main--dev--ada.other.example.com", "a.files--main--dev--ada.apps.example.com",
		"files--main--dev--ada.apps.example.com.evil.com",
	} {
		_, ok := p.parseHost(host)
		require.False(t, ok, host)
	}
	_, ok = New(Deps{}).parseHost("files--main--dev--ada.apps.example.com")
	require.False(t, ok, "no apps host, no subdomain apps")
}

func TestCheckHost(t *testing.T) {
	require.NoError(t, CheckHost(""))
	require.NoError(t, CheckHost("*.apps.localhost"))
	for _, h := range []string{"apps.example.com", "*.", "*.apps.example.com:3000", "http://*.apps.example.com", "*.*.example.com"} {
		require.Error(t, CheckHost(h), h)
	}
}

// An app's cookies never reach the dashboard or another app: no Domain, the app's path, and never
// one of Hearth's names.
func TestConfineCookies(t *testing.T) {
	h := http.Header{}
	h.Add("Set-Cookie", "theme=dark; Domain=example.com; Path=/")
	h.Add("Set-Cookie", "cart=1; Path=/@ada/dev/apps/shop/cart")
	h.Add("Set-Cookie", "hearth_session=stolen; Path=/")
	h.Add("Set-Cookie", "hearth_app_ticket=forged; Path=/")
	confineCookies(h, "/@ada/dev/apps/shop/")
	require.Equal(t, []string{"theme=dark; Path=/@ada/dev/apps/shop/", "cart=1; Path=/@ada/dev/apps/shop/cart"}, h.Values("Set-Cookie"))

	h = http.Header{}
	h.Add("Set-Cookie", "theme=dark; Domain=apps.example.com; Path=/")
	confineCookies(h, "/")
	require.Equal(t, []string{"theme=dark; Path=/"}, h.Values("Set-Cookie"), "a subdomain app's cookie stays on its host")
}

// Only app paths and app hosts are the proxy's; the dashboard's /@OWNER/... pages are not.
func TestOwns(t *testing.T) {
	p := New(Deps{AppsHost: "*.apps.example.com"})
	for path, want := range map[string]bool{
		"/@ada/dev/apps/files/":     true,
		"/@ada/dev.main/apps/files": true,
		"/@ada/dev":                 false,
		"/@ada/dev.main/terminal":   false,
		"/workspaces":               false,
		"/api/v2/workspaces":        false,
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://hearth.example.com"+path, nil)
		require.Equal(t, want, p.Owns(r), path)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://files--dev--ada.apps.example.com/anything", nil)
	require.True(t, p.Owns(r))
}

// A path app's response is sandboxed (its own policy kept alongside), may not clear the
// dashboard's site data or widen a service worker's scope, and drops an opener policy the sandbox
// would not open with; an app on its own host gets an opener policy unless it chose one.
func TestContain(t *testing.T) {
	path := ref{prefix: "/@ada/dev/apps/shop/"}
	h := http.Header{"Content-Security-Policy": {"default-src 'self'"}, "Clear-Site-Data": {`"*"`},
		"Service-Worker-Allowed": {"/"}, "Cross-Origin-Opener-Policy": {"same-origin"}}
	contain(h, path, grant{})
	require.Equal(t, []string{"default-src 'self'", pathAppSandbox}, h.Values("Content-Security-Policy"))
	require.NotContains(t, pathAppSandbox, "allow-same-origin")
	require.Empty(t, h.Get("Clear-Site-Data"))
	require.Empty(t, h.Get("Service-Worker-Allowed"))
	require.Empty(t, h.Get("Cross-Origin-Opener-Policy"))

	h = http.Header{"Service-Worker-Allowed": {"/"}}
	contain(h, path, grant{Unsandboxed: true})
	require.Empty(t, h.Get("Content-Security-Policy"), "the operator let this template's path apps out")
	require.Empty(t, h.Get("Service-Worker-Allowed"))

	host := ref{prefix: "/", host: "shop--dev--ada.apps.example.com"}
	h = http.Header{}
	contain(h, host, grant{})
	require.Empty(t, h.Get("Content-Security-Policy"))
	require.Equal(t, "same-origin-allow-popups", h.Get("Cross-Origin-Opener-Policy"))
	h = http.Header{"Cross-Origin-Opener-Policy": {"unsafe-none"}}
	contain(h, host, grant{})
	require.Equal(t, "unsafe-none", h.Get("Cross-Origin-Opener-Policy"))
}

// The proxy answers every host under the wildcard and every app-shaped host but the dashboard's,
// so a mistyped app host gets the proxy's page rather than the dashboard.
func TestAppHost(t *testing.T) {
	p := New(Deps{AppsHost: "*.apps.example.com", AccessURL: "https://hearth.example.com"})
	for host, want := range map[string]bool{
		"files--dev--ada.apps.example.com":  true,
		"nothing.apps.example.com:443":      true,
		"files--main--dev--ada.example.org": true,
		"hearth.example.com":                false,
		"xn--bcher-kva.example.com":         false,
		"apps.example.com":                  false,
		"files----ada.example.org":          false,
	} {
		require.Equal(t, want, p.appHost(host), host)
	}
	r, _ := http.NewRequest(http.MethodGet, "https://hearth.example.com:8443/@ada/dev.main/apps/Files/x", nil)
	require.Equal(t, "https://files--main--dev--ada.apps.example.com:8443/", p.hostURL(r, ref{slug: "Files", agent: "main", workspace: "dev", owner: "ada"}))
}
