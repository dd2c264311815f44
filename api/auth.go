package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/region"
	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
)

// security is the requirement of every authenticated operation: any one of the schemes.
var security = []map[string][]string{{"bearer": {}}, {"session-header": {}}, {"session-cookie": {}}}

var securitySchemes = map[string]*huma.SecurityScheme{
	"bearer":         {Type: "http", Scheme: "bearer", Description: "A session or API token: Authorization: Bearer hrt_..."},
	"session-header": {Type: "apiKey", In: "header", Name: "Hearth-Session-Token", Description: "A session or API token."},
	"session-cookie": {Type: "apiKey", In: "cookie", Name: users.CookieName,
		Description: "The dashboard's session cookie. Requests that change something must also send the header " + csrfHeader + "."},
	"provisioner-key": {Type: "apiKey", In: "header", Name: provisioner.KeyHeader,
		Description: "A provisioner worker's pre-shared key (hearth server --provisioner-psk-file)."},
	"agent-token": {Type: "apiKey", In: "header", Name: "Hearth-Agent-Token",
		Description: "A workspace agent's token (CODER_AGENT_TOKEN in the workspace), from its build's coder_agent."},
	"proxy-token": {Type: "apiKey", In: "header", Name: region.TokenHeader,
		Description: "A workspace proxy's token, from create-workspace-proxy (hearth proxy --token-file)."},
	"job-token": {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
		Description: "A provisioner job's job token, from acquire-provisioner-job or the last heartbeat."},
}

// csrfHeader must accompany cookie-authenticated requests that change state. Browsers do not let
// another origin's page send a custom header without the server's consent (which this API never
// gives), so its presence shows the request came from the dashboard's own code. The request's
// Origin, which browsers send with every such request, must also be the dashboard's.
const csrfHeader = "Hearth-Csrf"

// authenticate is huma middleware: for operations that declare security, it turns the request's token
// into an actor in the context, or answers 401.
func authenticate(hapi huma.API, auth *authn.Authenticator, accessURL string) func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		if !userAuthenticated(hctx.Operation()) {
			next(hctx) // public, or authenticated by its own scheme (a provisioner key, a job token)
			return
		}
		token, fromCookie := tokenOf(hctx)
		if token == "" {
			_ = huma.WriteErr(hapi, hctx, http.StatusUnauthorized, "Sign in, or send a token as Authorization: Bearer.")
			return
		}
		if fromCookie && !safeMethod(hctx.Method()) {
			if hctx.Header(csrfHeader) == "" {
				_ = huma.WriteErr(hapi, hctx, http.StatusForbidden, "Cookie-authenticated changes need the "+csrfHeader+" header.")
				return
			}
			if o := hctx.Header("Origin"); o != "" && !sameOrigin(o, hctx.Host(), accessURL) {
				_ = huma.WriteErr(hapi, hctx, http.StatusForbidden, "A cookie-authenticated change must come from the dashboard's own origin, not "+
					strconv.Quote(o)+": pages of other origins (workspace apps included) cannot act with a signed-in user's session. Send a token as Authorization: Bearer instead.")
				return
			}
		}
		actor, err := auth.Authenticate(hctx.Context(), token)
		switch {
		case errors.Is(err, authn.ErrInvalidToken), errors.Is(err, authn.ErrSuspended):
			_ = huma.WriteErr(hapi, hctx, http.StatusUnauthorized, capitalize(err.Error())+".")
			return
		case err != nil:
			// A 503 when the database is down (translate says so), else a 500 logged with its cause.
			_ = huma.WriteErr(hapi, hctx, http.StatusInternalServerError, "checking the token failed", err)
			return
		}
		next(huma.WithContext(hctx, authz.WithActor(hctx.Context(), actor)))
	}
}

// userAuthenticated reports whether an operation takes a user's session or API token.
func userAuthenticated(op *huma.Operation) bool {
	for _, req := range op.Security {
		if _, ok := req["bearer"]; ok {
			return true
		}
	}
	return false
}

func tokenOf(hctx huma.Context) (token string, fromCookie bool) {
	if v, ok := strings.CutPrefix(hctx.Header("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(v), false
	}
	if v := hctx.Header("Hearth-Session-Token"); v != "" {
		return v, false
	}
	if c, err := huma.ReadCookie(hctx, users.CookieName); err == nil {
		return c.Value, true
	}
	return "", false
}

// sameOrigin reports whether a request's Origin is the dashboard's: the access URL's origin, or
// the host the request came to (a deployment reached by more than one name). A sandboxed page's
// Origin is "null", which is neither.
func sameOrigin(origin, host, accessURL string) bool {
	if a, err := url.Parse(accessURL); err == nil && a.Host != "" && strings.EqualFold(origin, a.Scheme+"://"+a.Host) {
		return true
	}
	o, err := url.Parse(origin)
	return err == nil && (o.Scheme == "http" || o.Scheme == "https") && host != "" && strings.EqualFold(o.Host, host)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
