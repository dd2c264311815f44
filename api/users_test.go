package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// call sends a JSON request and decodes the JSON answer (other answers, such as event streams, are
// returned as the text under "body").
func call(t testing.TB, method, url, body string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, r)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	out := map[string]any{}
	raw, _ := io.ReadAll(res.Body)
	switch {
	case len(raw) == 0:
	case strings.Contains(res.Header.Get("Content-Type"), "json"):
		require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	default:
		out["body"] = string(raw)
	}
	return res, out
}

const ada = `{"username":"ada","email":"ada@example.com","password":"correct-horse"}`

// owner sets up the first user and returns a session token.
func owner(t testing.TB, b bundle) string {
	t.Helper()
	res, _ := call(t, "POST", b.srv.URL+"/api/v2/users/first", ada)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	res, body := call(t, "POST", b.srv.URL+"/api/v2/users/login", `{"login":"ada","password":"correct-horse"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	return body["session_token"].(string)
}

func TestFirstUserOnlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	codes := make(chan int, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := call(t, "POST", b.srv.URL+"/api/v2/users/first",
				strings.ReplaceAll(ada, "ada", "u"+string(rune('a'+i))))
			codes <- res.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	created := 0
	for c := range codes {
		if c == http.StatusCreated {
			created++
		} else {
			require.Equal(t, http.StatusConflict, c)
		}
	}
	require.Equal(t, 1, created, "exactly one of the racing requests creates the owner")
}

func TestSignInAndTheThreeWaysToSendATokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	call(t, "POST", b.srv.URL+"/api/v2/users/first", ada)
	res, body := call(t, "POST", b.srv.URL+"/api/v2/users/login", `{"login":"ADA@example.com","password":"correct-horse"}`)
	require.Equal(t, http.StatusOK, res.StatusCode)
	token := body["session_token"].(string)
	require.True(t, strings.HasPrefix(token, "hrt_"))
	cookie := res.Cookies()[0]
	require.Equal(t, "hearth_session", cookie.Name)
	require.True(t, cookie.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, cookie.SameSite)

	for name, headers := range map[string][]string{
		"bearer": {"Authorization", "Bearer " + token},
		"header": {"Hearth-Session-Token", token},
		"cookie": {"Cookie", "hearth_session=" + token},
	} {
		res, me := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", headers...)
		require.Equal(t, http.StatusOK, res.StatusCode, name)
		require.Equal(t, "ada", me["username"], name)
		require.Equal(t, []any{"owner"}, me["roles"], name)
	}
	res, p := call(t, "GET", b.srv.URL+"/api/v2/users/me", "")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.NotEmpty(t, p["request_id"])

	// Cookie-authenticated changes need the CSRF header; tokens in headers do not.
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/users/me/tokens", `{"name":"x"}`, "Cookie", "hearth_session="+token)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/users/me/tokens", `{"name":"x"}`, "Cookie", "hearth_session="+token, "Hearth-Csrf", "1")
	require.Equal(t, http.StatusCreated, res.StatusCode)

	// Sign-out revokes the session.
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/users/logout", "", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestWrongCredentialsLookTheSame(t *testing.T) {
	t.Parallel()
	b := setup(t)
	call(t, "POST", b.srv.URL+"/api/v2/users/first", ada)
	res1, p1 := call(t, "POST", b.srv.URL+"/api/v2/users/login", `{"login":"ada","password":"wrong-password"}`)
	res2, p2 := call(t, "POST", b.srv.URL+"/api/v2/users/login", `{"login":"nobody","password":"wrong-password"}`)
	require.Equal(t, http.StatusUnauthorized, res1.StatusCode)
	require.Equal(t, http.StatusUnauthorized, res2.StatusCode)
	require.Equal(t, p1["detail"], p2["detail"], "an unknown user is not told apart from a wrong password")
	require.NotEmpty(t, p1["request_id"])
}

func TestSignInAttemptsAreLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	other := setupOn(t, b.db, nil) // a second replica of the same deployment
	call(t, "POST", b.srv.URL+"/api/v2/users/first", ada)
	// The budget is a burst of 10, then one every 6 s, whichever replica is asked: attempts are
	// refused once it is spent, however slowly a loaded machine makes them.
	start := time.Now()
	for passed := 0; ; passed++ {
		srv := []bundle{b, other}[passed%2].srv
		res, _ := call(t, "POST", srv.URL+"/api/v2/users/login", `{"login":"ada","password":"wrong-password"}`)
		if res.StatusCode == http.StatusTooManyRequests {
			break
		}
		require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		budget := 10 + int(time.Since(start)/(6*time.Second)) + 1
		require.Less(t, passed, budget, "attempt %d let through after %s: more than the budget", passed+1, time.Since(start))
	}
}

func TestSuspendedUsersAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	token := owner(t, b)
	_, err := b.db.Pool.Exec(context.Background(), "UPDATE users SET status = 'suspended'")
	require.NoError(t, err)
	b.auth.Forget(context.Background(), strings.Split(token, "_")[1])
	res, p := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.Contains(t, p["detail"], "suspended")
	res, _ = call(t, "POST", b.srv.URL+"/api/v2/users/login", `{"login":"ada","password":"correct-horse"}`)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestAPITokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	session := owner(t, b)
	auth := []string{"Authorization", "Bearer " + session}

	res, created := call(t, "POST", b.srv.URL+"/api/v2/users/me/tokens", `{"name":"ci","lifetime_seconds":3600}`, auth...)
	require.Equal(t, http.StatusCreated, res.StatusCode, created)
	token := created["token"].(string)

	res, me := call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, "ada", me["username"])

	res, p := call(t, "POST", b.srv.URL+"/api/v2/users/me/tokens", `{"name":"ci"}`, auth...)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Equal(t, "body.name", p["errors"].([]any)[0].(map[string]any)["location"])

	res, list := call(t, "GET", b.srv.URL+"/api/v2/users/me/tokens", "", auth...)
	require.Equal(t, http.StatusOK, res.StatusCode)
	tokens := list["tokens"].([]any)
	require.Len(t, tokens, 1, "sessions are not listed as tokens")
	require.NotContains(t, tokens[0], "token", "the secret is never listed")

	res, _ = call(t, "DELETE", b.srv.URL+"/api/v2/users/me/tokens/"+created["id"].(string), "", auth...)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = call(t, "GET", b.srv.URL+"/api/v2/users/me", "", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "revocation is immediate on the replica that revoked")
	res, _ = call(t, "DELETE", b.srv.URL+"/api/v2/users/me/tokens/"+created["id"].(string), "", auth...)
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	for _, body := range []string{`{"name":""}`, `{"name":"ok","lifetime_seconds":5}`, `{"name":"ok","scopes":["root"]}`, `{"name":"`} {
		res, _ := call(t, "POST", b.srv.URL+"/api/v2/users/me/tokens", body, auth...)
		require.GreaterOrEqual(t, res.StatusCode, 400, body)
		require.Less(t, res.StatusCode, 500, body)
	}
}

func TestValidationErrorsNeverEchoPasswords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, p := call(t, "POST", b.srv.URL+"/api/v2/users/first", `{"username":"BAD NAME","email":"x","password":"short"}`)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	raw, _ := json.Marshal(p)
	require.NotContains(t, string(raw), "short")
	locations := []string{}
	for _, e := range p["errors"].([]any) {
		locations = append(locations, e.(map[string]any)["location"].(string))
	}
	require.ElementsMatch(t, []string{"body.username", "body.email", "body.password"}, locations)
}
