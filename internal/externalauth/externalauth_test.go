package externalauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/oauthtest"
	"github.com/hearthdev/hearth/internal/seal"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Providers come from a YAML file and numbered variables, take their type's defaults, and bad
// settings are refused with the provider and the setting named.
func TestProvidersFromFileAndEnvironment(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "external-auth.yaml")
	secret := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(secret, []byte("s3cret\n"), 0o600))
	require.NoError(t, os.WriteFile(file, []byte("- id: github\n  client_id: abc\n  client_secret_file: "+secret+"\n  device_flow: true\n"), 0o600))
	ps, err := externalauth.Load(file, []string{"HEARTH_EXTERNAL_AUTH_0_ID=corp-gitlab", "HEARTH_EXTERNAL_AUTH_0_TYPE=gitlab",
		"HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=x", "HEARTH_EXTERNAL_AUTH_0_REGEX=^https://git\\.corp\\.example/", "HEARTH_EXTERNAL_AUTH_CONFIG=ignored", "PATH=/bin"})
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.Equal(t, "github", ps[0].Type, "the id names the type when no type is given")
	require.Equal(t, "GitHub", ps[0].DisplayName)
	require.True(t, ps[0].DeviceFlow)
	require.True(t, ps[0].Regex.MatchString("https://github.com/hearthdev/hearth.git"))
	require.Equal(t, "gitlab", ps[1].Type)
	require.True(t, ps[1].Regex.MatchString("https://git.corp.example/team/repo.git"))
	require.False(t, ps[1].Regex.MatchString("https://gitlab.com/team/repo.git"))

	for name, env := range map[string][]string{
		"type":        {"HEARTH_EXTERNAL_AUTH_0_ID=x", "HEARTH_EXTERNAL_AUTH_0_TYPE=svn", "HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=a"},
		"client_id":   {"HEARTH_EXTERNAL_AUTH_0_ID=github"},
		"id":          {"HEARTH_EXTERNAL_AUTH_0_ID=Git Hub", "HEARTH_EXTERNAL_AUTH_0_TYPE=github", "HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=a"},
		"auth_url":    {"HEARTH_EXTERNAL_AUTH_0_ID=mine", "HEARTH_EXTERNAL_AUTH_0_TYPE=oauth2", "HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=a"},
		"regex":       {"HEARTH_EXTERNAL_AUTH_0_ID=github", "HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=a", "HEARTH_EXTERNAL_AUTH_0_REGEX=("},
		"twice":       {"HEARTH_EXTERNAL_AUTH_0_ID=github", "HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=a", "HEARTH_EXTERNAL_AUTH_1_ID=github", "HEARTH_EXTERNAL_AUTH_1_CLIENT_ID=b"},
		"CLIENT_SCRT": {"HEARTH_EXTERNAL_AUTH_0_ID=github", "HEARTH_EXTERNAL_AUTH_0_CLIENT_SCRT=a"},
		"DEVICE_FLOW": {"HEARTH_EXTERNAL_AUTH_0_ID=github", "HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=a", "HEARTH_EXTERNAL_AUTH_0_DEVICE_FLOW=sometimes"},
	} {
		_, err := externalauth.Load("", env)
		require.ErrorContains(t, err, name, "%v", env)
	}
	require.NoError(t, os.WriteFile(file, []byte("- id: github\n  client_id: abc\n  clientsecret: typo\n"), 0o600))
	_, err = externalauth.Load(file, nil)
	require.ErrorContains(t, err, "clientsecret", "an unknown key in the file is refused, not ignored")
}

// link makes a user, a provider on a test OAuth server, and links them through the real
// authorization-code flow (the consent form posted as a browser would).
func link(t *testing.T, lifetime time.Duration) (*externalauth.Links, *oauthtest.Server, *db.DB, dbsqlc.User, *bytes.Buffer) {
	t.Helper()
	srv := oauthtest.New(t, oauthtest.Options{AccessLifetime: lifetime})
	ps, err := externalauth.Load("", []string{"HEARTH_EXTERNAL_AUTH_0_ID=test", "HEARTH_EXTERNAL_AUTH_0_TYPE=oauth2",
		"HEARTH_EXTERNAL_AUTH_0_CLIENT_ID=" + srv.ClientID(), "HEARTH_EXTERNAL_AUTH_0_CLIENT_SECRET=" + srv.ClientSecret(),
		"HEARTH_EXTERNAL_AUTH_0_AUTH_URL=" + srv.URL + "/authorize", "HEARTH_EXTERNAL_AUTH_0_TOKEN_URL=" + srv.URL + "/token",
		"HEARTH_EXTERNAL_AUTH_0_REVOKE_URL=" + srv.URL + "/revoke"})
	require.NoError(t, err)
	d := dbtest.New(t)
	box, err := seal.New(make([]byte, 32), "external-auth-tokens")
	require.NoError(t, err)
	var logs bytes.Buffer
	var mu sync.Mutex
	l := externalauth.NewLinks(d, box, ps, slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)))
	u, err := d.InsertUser(context.Background(), dbsqlc.InsertUserParams{Username: "ada", Email: "ada@example.com", Roles: []string{}})
	require.NoError(t, err)
	p, _ := l.Provider("test")
	verifier := rand.Text() + rand.Text()
	authURL, err := p.AuthCodeURL(context.Background(), "http://hearth.test/callback", "st", verifier)
	require.NoError(t, err)
	code := srv.Approve(t, authURL).Query().Get("code")
	g, err := p.Exchange(context.Background(), "http://hearth.test/callback", code, verifier)
	require.NoError(t, err)
	require.NoError(t, l.Store(context.Background(), d.Queries, u.ID, p, g))
	return l, srv, d, u, &logs
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// A token is handed out as stored while fresh; once due it is refreshed (one refresh however many
// ask at once); a refresh the provider refuses removes the link and says to link again.
func TestTokensAreRefreshedWhenDue(t *testing.T) {
	t.Parallel()
	l, srv, d, u, logs := link(t, 2*time.Second)
	ctx := context.Background()
	first, err := l.Token(ctx, u.ID, "test")
	require.NoError(t, err)
	require.True(t, srv.Valid(first.AccessToken))
	again, err := l.Token(ctx, u.ID, "test")
	require.NoError(t, err)
	require.Equal(t, first.AccessToken, again.AccessToken, "a fresh token is not refreshed")

	time.Sleep(2 * time.Second)
	got := make([]string, 6)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			tok, err := l.Token(ctx, u.ID, "test")
			require.NoError(t, err)
			got[i] = tok.AccessToken
		})
	}
	wg.Wait()
	sort.Strings(got)
	require.Equal(t, got[0], got[len(got)-1], "every caller got the one refreshed token")
	require.NotEqual(t, first.AccessToken, got[0])
	require.True(t, srv.Valid(got[0]))
	require.EqualValues(t, 1, srv.Refreshes.Load(), "one refresh, however many asked (the refresh token rotates)")

	srv.RevokeAll() // the user withdrew the app at the provider
	time.Sleep(2 * time.Second)
	_, err = l.Token(ctx, u.ID, "test")
	require.ErrorIs(t, err, externalauth.ErrRelink)
	links, err := d.ListExternalAuthLinks(ctx, u.ID)
	require.NoError(t, err)
	require.Empty(t, links, "a link that cannot be refreshed is removed, not left half-working")
	_, err = l.Token(ctx, u.ID, "test")
	require.ErrorIs(t, err, externalauth.ErrNotLinked)
	require.NotContains(t, logs.String(), first.AccessToken)
	require.NotContains(t, logs.String(), got[0])
}

// Tokens are stored sealed; a provider answering garbage or an error leaves the link as it was and
// the error names the provider and the step, never a token.
func TestStoredTokensAreSealedAndBadProvidersChangeNothing(t *testing.T) {
	t.Parallel()
	l, srv, d, u, _ := link(t, 2*time.Second)
	ctx := context.Background()
	tok, err := l.Token(ctx, u.ID, "test")
	require.NoError(t, err)
	var raw []byte
	require.NoError(t, d.Pool.QueryRow(ctx, "SELECT access_token_sealed || coalesce(refresh_token_sealed, '') FROM external_auth_links").Scan(&raw))
	require.NotContains(t, string(raw), tok.AccessToken)
	require.NotContains(t, string(raw), "ghr_", "the refresh token is sealed too")

	srv.Garbage.Store(true)
	time.Sleep(2 * time.Second)
	_, err = l.Token(ctx, u.ID, "test")
	var pe *externalauth.ProviderError
	require.ErrorAs(t, err, &pe)
	require.Contains(t, err.Error(), "test: refresh: the answer has no access token")
	links, err := d.ListExternalAuthLinks(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, links, 1, "the link stays: the provider may recover")
	srv.Garbage.Store(false)
	fresh, err := l.Token(ctx, u.ID, "test")
	require.NoError(t, err)
	require.True(t, srv.Valid(fresh.AccessToken), "once the provider answers properly, the same link refreshes")

	found, revokeErr, err := l.Unlink(ctx, u.ID, "test")
	require.NoError(t, err)
	require.NoError(t, revokeErr)
	require.True(t, found)
	require.False(t, srv.Valid(fresh.AccessToken), "unlinking revoked the token at the provider")
	require.EqualValues(t, 2, srv.Revocations.Load(), "the access and the refresh token")
}
