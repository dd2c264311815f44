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
