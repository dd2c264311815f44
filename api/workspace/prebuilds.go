package workspace

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/api/template"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/parameter"
	"github.com/hearthdev/hearth/internal/prebuilds"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// CreatePrebuild makes a prebuilt workspace of a template's version and preset, owned by the
// prebuilds system user, and starts its first build, audited as system:scheduler with action
// prebuild-create.
func CreatePrebuild(d Deps) func(ctx context.Context, tx db.Tx, templateID, versionID uuid.UUID, preset string) error {
	h := handlers{Deps: d}
	return func(ctx context.Context, tx db.Tx, templateID, versionID uuid.UUID, preset string) error {
		ctx = audit.Start(authz.AsScheduler(ctx), audit.Request{Action: "prebuild-create", Status: http.StatusCreated})
		if _, err := tx.ShareLockTemplate(ctx, templateID); err != nil {
			return db.Translate(err)
		}
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		w, err := tx.InsertWorkspace(ctx, dbsqlc.InsertWorkspaceParams{OwnerID: authz.PrebuildsOwner, TemplateID: templateID,
			Name: "prebuild-" + hex.EncodeToString(suffix)})
		if err != nil {
			return err
		}
		if err := tx.SetWorkspacePreset(ctx, dbsqlc.SetWorkspacePresetParams{ID: w.ID, Preset: preset}); err != nil {
			return err
		}
		if _, err := h.startBuild(ctx, tx, w, buildRequest{Transition: "start", VersionID: &versionID, Preset: preset}, true); err != nil {
			return err
		}
		out, err := tx.GetWorkspace(ctx, w.ID)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace", ID: w.ID.String(), Name: w.Name}, audit.Diff(nil, toWorkspace(out)))
	}
}

// claimed is a prebuild just claimed: its agents' new tokens, to hand them once the claim commits.
type claimed struct {
	tokens map[uuid.UUID]string
}

// claim gives owner a ready prebuild of the template's active version and preset, as name, in tx:
// ownership and name move, the system user's session token for the workspace is revoked, and each
// agent gets a new token. ok is false when no prebuild is ready, or when a parameter given differs
// from the prebuild's (the caller builds one as usual).
func (h handlers) claim(ctx context.Context, tx db.Tx, templateID uuid.UUID, preset string, owner dbsqlc.User, name string,
	given []parameter.Value) (dbsqlc.Workspace, claimed, bool, error) {
	var c claimed
	p, err := tx.ClaimablePrebuild(ctx, dbsqlc.ClaimablePrebuildParams{TemplateID: templateID, Preset: preset})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return p, c, false, nil
	}
	if err != nil {
		return p, c, false, err
	}
	latest, err := tx.LatestBuildWithParameters(ctx, dbsqlc.LatestBuildWithParametersParams{WorkspaceID: p.ID, Before: 1 << 30})
	if err != nil {
		return p, c, false, err
	}
	values := buildValues(latest)
	for _, g := range given {
		if v, ok := values[g.Name]; !ok || v != g.Value {
			return p, c, false, nil
		}
	}
	w, err := tx.ClaimPrebuild(ctx, dbsqlc.ClaimPrebuildParams{ID: p.ID, OwnerID: owner.ID, Name: name})
	if err != nil {
		return w, c, false, err
	}
	if err := tx.DeleteAPIKeyByName(ctx, dbsqlc.DeleteAPIKeyByNameParams{UserID: authz.PrebuildsOwner, Name: "workspace " + p.ID.String()}); err != nil {
		return w, c, false, err
	}
	agents, err := tx.ListWorkspaceAgents(ctx, latest.ID)
	if err != nil {
		return w, c, false, err
	}
	if err := h.claimedEnv(ctx, tx, w, latest, owner.ID, agents); err != nil {
		return w, c, false, err
	}
	c.tokens = map[uuid.UUID]string{}
	for _, a := range agents {
		token, sum := newAgentToken()
		if err := tx.ReissueAgentToken(ctx, dbsqlc.ReissueAgentTokenParams{ID: a.WorkspaceAgent.ID, TokenHash: sum}); err != nil {
			return w, c, false, err
		}
		c.tokens[a.WorkspaceAgent.ID] = token
	}
	return w, c, true, nil
}

// claimedEnv gives a claimed workspace's agents the env a build for their new owner would write:
// each coder_agent's env evaluated with the new owner, the new name and is_prebuild_claim (no build
// runs at a claim), for the entries that can be known without Terraform. The others keep what the
// prebuild's build wrote.
func (h handlers) claimedEnv(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, b dbsqlc.WorkspaceBuild, owner uuid.UUID,
	agents []dbsqlc.ListWorkspaceAgentsRow) error {
	v, err := tx.GetTemplateVersion(ctx, b.TemplateVersionID)
	if err != nil {
		return err
	}
	env, err := template.ClaimedAgentEnv(ctx, tx.Queries, h.Variables, v, owner, w, buildValues(b))
	if err != nil {
		return err
	}
	for _, a := range agents {
		cur := map[string]string{}
		_ = json.Unmarshal(a.WorkspaceAgent.Env, &cur)
		changed := false
		for k, val := range env[a.WorkspaceAgent.Name] {
			if cur[k] != val {
				cur[k], changed = val, true
			}
		}
		if !changed {
			continue
		}
		raw, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		if err := tx.SetWorkspaceAgentEnv(ctx, dbsqlc.SetWorkspaceAgentEnvParams{ID: a.WorkspaceAgent.ID, Env: raw}); err != nil {
			return err
		}
	}
	return nil
}

// buildValues is a build's parameter values by name.
func buildValues(b dbsqlc.WorkspaceBuild) map[string]string {
	var params []parameter.Value
	_ = json.Unmarshal(b.Parameters, &params) // written by us
	values := map[string]string{}
	for _, p := range params {
		values[p.Name] = p.Value
	}
	return values
}

// newAgentToken makes an agent token and its hash.
func newAgentToken() (string, []byte) {
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := hex.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// redeliver gives an agent that connected its tunnel with its previous token (it missed the
// hand-over of a claim: its tunnel was down, say) a fresh new token over that tunnel, once the tunnel
// is registered. The token it never took is replaced, so no undelivered token stays valid.
func (h handlers) redeliver(ctx context.Context, agentID uuid.UUID) {
	deadline := time.Now().Add(10 * time.Second)
	for !h.Relay.Holds(agentID) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	token, sum := newAgentToken()
	n, err := h.DB.RenewUndeliveredAgentToken(ctx, dbsqlc.RenewUndeliveredAgentTokenParams{ID: agentID, TokenHash: sum})
	if err != nil || n == 0 {
		return
	}
	h.handOver(ctx, claimed{tokens: map[uuid.UUID]string{agentID: token}})
}

// handOver gives a claimed prebuild's agents their new tokens over their tunnels; each fetches its
// new manifest (the new owner's workspace) with it, and its old token stops working. An agent that
// cannot be reached keeps working with its old token.
func (h handlers) handOver(ctx context.Context, c claimed) {
	ctx = context.WithoutCancel(ctx)
	for id, token := range c.tokens {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := h.Relay.Dial(dctx, id, tunnel.Header{Kind: tunnel.KindReinit, Token: token})
		cancel()
		if err != nil {
			if h.Logger != nil {
				h.Logger.WarnContext(ctx, "prebuilds: a claimed workspace's agent did not take its new token; it keeps its old one", "agent", id, "error", err)
			}
			continue
		}
		_ = st.Close()
		if err := h.DB.ForgetPreviousAgentToken(ctx, id); err != nil && h.Logger != nil {
			h.Logger.WarnContext(ctx, "prebuilds: forgetting an agent's old token failed", "agent", id, "error", err)
		}
	}
}

// PoolsOutput lists the pools of prebuilt workspaces.
type PoolsOutput struct {
	Body struct {
		Pools []prebuilds.Pool `json:"pools"`
		// SeenAt is when the reconciler last looked (absent before its first pass).
		SeenAt *time.Time `json:"seen_at,omitempty"`
	}
}

func (h handlers) pools(ctx context.Context, _ *struct{}) (*PoolsOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadAnyWorkspaces); err != nil {
		return nil, err
	}
	pools, at, err := prebuilds.Load(ctx, h.DB.Queries)
	if err != nil {
		return nil, err
	}
	out := &PoolsOutput{}
	out.Body.Pools = pools
	if !at.IsZero() {
		out.Body.SeenAt = &at
	}
	return out, nil
}
