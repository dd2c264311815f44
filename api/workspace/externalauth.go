package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	apiexternalauth "github.com/hearthdev/hearth/api/externalauth"
	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/gitsshkey"
)

func registerAgentExternalAuth(api huma.API, h handlers) {
	huma.Register(api, huma.Operation{OperationID: "get-workspace-agent-external-auth", Method: http.MethodGet,
		Path: "/api/v2/workspaceagents/me/external-auth", Summary: "Get the owner's external auth token",
		Description: "For workspace agents, with their token: a fresh access token of the workspace owner's link to a provider the workspace's template uses " +
			"(data \"coder_external_auth\"), chosen by id or by a Git URL its regex matches, with the username and password Git should send. " +
			"A token that is due is refreshed first. Not linked, or a provider the template does not use: 403 saying what to do.",
		Tags: []string{"Agents"}, Security: []map[string][]string{{"agent-token": {}}}, Metadata: map[string]any{"audit": false},
		Errors: []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusBadGateway}}, h.agentExternalAuth)
}

type agentExternalAuthInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	ID    string `query:"id" maxLength:"64" doc:"The provider's ID."`
	URL   string `query:"url" maxLength:"4096" doc:"A Git URL: the first of the template's providers whose regex matches it."`
}

// AgentExternalAuth is an access token for the workspace's owner.
type AgentExternalAuth struct {
	ProviderID  string     `json:"provider_id"`
	Type        string     `json:"type"`
	AccessToken string     `json:"access_token"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	// Username and Password are what Git sends for it over HTTPS.
	Username string `json:"username"`
	Password string `json:"password"`
}

type agentExternalAuthOutput struct {
	Body AgentExternalAuth
}

// versionExternalAuth reads the providers a template version uses.
func versionExternalAuth(raw []byte) []provisioner.ExternalAuth {
	var out []provisioner.ExternalAuth
	_ = json.Unmarshal(raw, &out) // written by us
	return out
}

func (h handlers) agentExternalAuth(ctx context.Context, in *agentExternalAuthInput) (*agentExternalAuthOutput, error) {
	row, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	raw, err := h.DB.GetBuildExternalAuth(ctx, row.WorkspaceAgent.BuildID)
	if err != nil {
		return nil, err
	}
	used := versionExternalAuth(raw)
	var p *externalauth.Provider
	switch {
	case in.ID != "":
		var ok bool
		if p, ok = h.ExternalAuth.Provider(in.ID); !ok {
			return nil, huma.Error404NotFound("This deployment has no external auth provider " + in.ID + ".")
		}
		if !usesProvider(used, in.ID) {
			return nil, huma.Error403Forbidden("The template of workspace " + row.WorkspaceName + ` does not use external auth provider ` + in.ID +
				`, so its workspaces get no token for it; a template admin adds data "coder_external_auth" "` + in.ID + `" { id = "` + in.ID + `" } to the template.`)
		}
	case in.URL != "":
		for _, u := range used {
			if c, ok := h.ExternalAuth.Provider(u.ID); ok && c.Regex != nil && c.Regex.MatchString(in.URL) {
				p = c
				break
			}
		}
		if p == nil {
			return nil, huma.Error404NotFound("No external auth provider of this workspace's template serves " + redactURL(in.URL) + ".")
		}
	default:
		return nil, huma.Error400BadRequest("Ask by id (a provider's ID) or by url (a Git URL).")
	}
	tok, err := h.ExternalAuth.Token(ctx, row.OwnerID, p.ID)
	if err != nil {
		return nil, externalAuthError(p, row.OwnerName, h.AccessURL, err)
	}
	user, pass := gitCredentials(p.Type, tok.AccessToken)
	return &agentExternalAuthOutput{Body: AgentExternalAuth{ProviderID: p.ID, Type: p.Type, AccessToken: tok.AccessToken, ExpiresAt: tok.Expiry,
		Username: user, Password: pass}}, nil
}

func usesProvider(used []provisioner.ExternalAuth, id string) bool {
	for _, u := range used {
		if u.ID == id {
			return true
		}
	}
	return false
}

// externalAuthError says why there is no token and how to get one, without the token or the
// provider's answer.
func externalAuthError(p *externalauth.Provider, owner, accessURL string, err error) error {
	how := "link it at " + apiexternalauth.LinkURL(accessURL, p.ID) + " or run `hearth external-auth link " + p.ID + "` (outside the workspace), then try again."
	var pe *externalauth.ProviderError
	switch {
	case errors.Is(err, externalauth.ErrNotLinked):
		return huma.Error403Forbidden(owner + " has not linked a " + p.DisplayName + " account: " + how)
	case errors.Is(err, externalauth.ErrRelink):
		return huma.Error403Forbidden(owner + "'s " + p.DisplayName + " link stopped working (" + p.DisplayName + " refused to renew it: revoked or expired); " + how)
	case errors.As(err, &pe):
		return huma.Error502BadGateway(p.DisplayName + " did not answer the token refresh properly; try again later.")
	}
	return err
}

// gitCredentials is what Git sends for a token over HTTPS: each host wants its own username.
func gitCredentials(kind, token string) (user, pass string) {
	switch kind {
	case "github":
		return "x-access-token", token
	case "bitbucket-cloud":
		return "x-token-auth", token
	default:
		return "oauth2", token
	}
}

// redactURL drops a URL's user info (a password someone put there) before it goes into a message.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
			return u[:scheme+3] + "…@" + u[at+1:]
		}
	}
	return u
}

// checkExternalAuth refuses, before any job is queued, a start of w on v when v requires a provider
// the owner has not linked, or one this deployment does not offer. Prebuilds (no person yet) build
// without tokens.
func (h handlers) checkExternalAuth(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, v dbsqlc.TemplateVersion) error {
	used := versionExternalAuth(v.ExternalAuth)
	if len(used) == 0 || w.OwnerID == authz.PrebuildsOwner {
		return nil
	}
	var links []dbsqlc.ExternalAuthLink
	loaded := false
	for _, u := range used {
		p, ok := h.ExternalAuth.Provider(u.ID)
		if !ok {
			if u.Optional {
				continue
			}
			return huma.Error400BadRequest("This template requires external auth provider " + u.ID + ", which this deployment does not offer; " +
				"an operator configures it (--external-auth-config or " + externalauth.EnvPrefix + "N_ID), or a template admin makes it optional.")
		}
		if u.Optional {
			continue
		}
		if !loaded {
			var err error
			if links, err = tx.ListExternalAuthLinks(ctx, w.OwnerID); err != nil {
				return err
			}
			loaded = true
		}
		if !linked(links, u.ID) {
			return huma.Error403Forbidden("This template needs the owner's " + p.DisplayName + " account: link it at " +
				apiexternalauth.LinkURL(h.AccessURL, p.ID) + " or with `hearth external-auth link " + p.ID + "`, then start the workspace again.")
		}
	}
	return nil
}

func linked(links []dbsqlc.ExternalAuthLink, id string) bool {
	for _, l := range links {
		if l.ProviderID == id {
			return true
		}
	}
	return false
}

func registerAgentGitSSHKey(api huma.API, h handlers) {
	huma.Register(api, huma.Operation{OperationID: "get-workspace-agent-gitsshkey", Method: http.MethodGet,
		Path: "/api/v2/workspaceagents/me/gitsshkey", Summary: "Get the owner's Git SSH key",
		Description: "For workspace agents, with their token: the workspace owner's Git SSH key pair (made on first use; `hearth publickey` shows the public half), " +
			"which `coder gitssh` (GIT_SSH_COMMAND in sessions) offers to Git's SSH connections.",
		Tags: []string{"Agents"}, Security: []map[string][]string{{"agent-token": {}}}, Metadata: map[string]any{"audit": false},
		Errors: []int{http.StatusUnauthorized}}, h.agentGitSSHKey)
}

// AgentGitSSHKey is the owner's Git SSH key pair.
type AgentGitSSHKey struct {
	PublicKey  string `json:"public_key"`
	PrivateKey string `json:"private_key" doc:"PEM (OpenSSH format)."`
}

type agentGitSSHKeyOutput struct {
	Body AgentGitSSHKey
}

func (h handlers) agentGitSSHKey(ctx context.Context, in *agentTokenInput) (*agentGitSSHKeyOutput, error) {
	row, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	key, err := gitsshkey.Get(ctx, h.DB.Queries, h.GitSSHKeys, row.OwnerID)
	if err != nil {
		return nil, err
	}
	private, err := gitsshkey.Private(h.GitSSHKeys, key)
	if err != nil {
		return nil, err
	}
	return &agentGitSSHKeyOutput{Body: AgentGitSSHKey{PublicKey: key.PublicKey, PrivateKey: string(private)}}, nil
}
