package provisioner

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/hearthdev/hearth/internal/apikey"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/bootstrap"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/gitsshkey"
	"github.com/hearthdev/hearth/internal/parameter"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/riverclaim"
	"github.com/hearthdev/hearth/internal/schedule"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// BuildJob is what a worker needs for a workspace build besides the template.
type BuildJob struct {
	ID         uuid.UUID `json:"id"`
	Transition string    `json:"transition" enum:"start,stop,delete"`
	State      []byte    `json:"state,omitempty" doc:"The previous build's Terraform state (base64); absent for a workspace's first build."`
	// Env is what the coder/coder provider reads: CODER_WORKSPACE_*, CODER_WORKSPACE_OWNER_*,
	// CODER_PARAMETER_* and the agent init scripts.
	Env map[string]string `json:"env"`
}

// claimBuild leases a build job and fills in its part of the job.
func (h handlers) claimBuild(ctx context.Context, tx db.Tx, row *riverclaim.Job, lease lease, job *Job) error {
	var args jobargs.WorkspaceBuild
	if err := json.Unmarshal(row.EncodedArgs, &args); err != nil {
		return fmt.Errorf("provisioner: job %d: %w", row.ID, err)
	}
	b, err := tx.StartWorkspaceBuild(ctx, dbsqlc.StartWorkspaceBuildParams{JobID: row.ID, Attempt: lease.Attempt, WorkerID: lease.WorkerID,
		ExpiresAt: lease.ExpiresAt})
	if err != nil {
		return fmt.Errorf("provisioner: job %d: workspace build: %w", row.ID, err)
	}
	in, err := tx.GetBuildJobInput(ctx, b.ID)
	if err != nil {
		return fmt.Errorf("provisioner: job %d: workspace build: %w", row.ID, err)
	}
	job.TemplateVersionID = in.TemplateVersionID.String()
	job.Template.Archive, job.Template.ContentType = in.Data, in.ContentType
	if job.Variables, err = h.variables(in.TemplateVersionID, in.VariableValues); err != nil {
		return fmt.Errorf("provisioner: job %d: %w", row.ID, err)
	}
	bj := &BuildJob{ID: b.ID, Transition: b.Transition}
	var values, previous []parameter.Value
	_ = json.Unmarshal(in.Parameters, &values) // written by us
	prev, err := tx.LatestBuildWithParameters(ctx, dbsqlc.LatestBuildWithParametersParams{WorkspaceID: in.WorkspaceID, Before: b.Number})
	if err == nil {
		_ = json.Unmarshal(prev.Parameters, &previous)
	} else if !errors.Is(db.Translate(err), db.ErrNotFound) {
		return err
	}
	st, err := tx.PreviousBuildState(ctx, dbsqlc.PreviousBuildStateParams{WorkspaceID: in.WorkspaceID, Before: b.Number})
	switch {
	case err == nil:
		if bj.State, err = h.Boxes.State.Open(st.State, st.ID.String()); err != nil {
			return fmt.Errorf("provisioner: job %d: the state of build %d: %w", row.ID, st.Number, err)
		}
	case !errors.Is(db.Translate(err), db.ErrNotFound):
		return err
	}
	bj.Env = buildEnv(in, values, previous)
	secrets, err := h.ownerSecrets(ctx, tx, in)
	if err != nil {
		return fmt.Errorf("provisioner: job %d: %w", row.ID, err)
	}
	maps.Copy(bj.Env, secrets)
	job.Build = bj
	return nil
}

// WorkspaceTokenLifetime is how long the session token a start build gives the template
// (data.coder_workspace_owner's session_token) lasts. Each start replaces the workspace's token; a
// stop or delete revokes it.
const WorkspaceTokenLifetime = 24 * time.Hour

// ownerSecrets are the owner's Git SSH key pair and, for a start, a fresh session token acting as
// the owner: what the provider reads as ssh_public_key, ssh_private_key and session_token.
func (h handlers) ownerSecrets(ctx context.Context, tx db.Tx, in dbsqlc.GetBuildJobInputRow) (map[string]string, error) {
	key, err := gitsshkey.Get(ctx, tx.Queries, h.Boxes.GitSSHKeys, in.OwnerID)
	if err != nil {
		return nil, err
	}
	private, err := gitsshkey.Private(h.Boxes.GitSSHKeys, key)
	if err != nil {
		return nil, err
	}
	env := map[string]string{"CODER_WORKSPACE_OWNER_SSH_PUBLIC_KEY": key.PublicKey, "CODER_WORKSPACE_OWNER_SSH_PRIVATE_KEY": string(private)}
	if t, err := tx.GetOIDCToken(ctx, in.OwnerID); err == nil && (t.ExpiresAt == nil || t.ExpiresAt.After(time.Now())) {
		if plain, err := h.Boxes.OIDCTokens.Open(t.AccessTokenSealed, in.OwnerID.String()); err == nil {
			env["CODER_WORKSPACE_OWNER_OIDC_ACCESS_TOKEN"] = string(plain)
		}
	} else if err != nil && !errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, err
	}
	h.externalAuthTokens(ctx, in, env)
	name := "workspace " + in.WorkspaceID.String()
	if err := tx.DeleteAPIKeyByName(ctx, dbsqlc.DeleteAPIKeyByNameParams{UserID: in.OwnerID, Name: name}); err != nil {
		return nil, err
	}
	if in.Transition == "start" {
		k := apikey.New()
		if _, err := tx.InsertAPIKey(ctx, dbsqlc.InsertAPIKeyParams{ID: k.ID, UserID: in.OwnerID, Kind: "token", Name: name, SecretHash: k.SecretHash,
			Scopes: []string{"all"}, ExpiresAt: time.Now().Add(WorkspaceTokenLifetime).Truncate(time.Second)}); err != nil {
			return nil, err
		}
		env["CODER_WORKSPACE_OWNER_SESSION_TOKEN"] = k.Token
	}
	return env, nil
}

// externalAuthTokens adds the owner's access token of each external auth provider the version uses
// and the owner has linked (CODER_EXTERNAL_AUTH_ACCESS_TOKEN_<id>, data "coder_external_auth"'s
// access_token), refreshed first when due. The start request already refused an owner without a
// required link; a link that stops working in between leaves access_token empty, with a warning.
func (h handlers) externalAuthTokens(ctx context.Context, in dbsqlc.GetBuildJobInputRow, env map[string]string) {
	if h.ExternalAuth == nil {
		return
	}
	var used []ExternalAuth
	_ = json.Unmarshal(in.ExternalAuth, &used) // written by us
	for _, u := range used {
		if _, ok := h.ExternalAuth.Provider(u.ID); !ok || in.OwnerID == authz.PrebuildsOwner {
			continue
		}
		tok, err := h.ExternalAuth.Token(ctx, in.OwnerID, u.ID)
		if err != nil {
			if !errors.Is(err, externalauth.ErrNotLinked) || !u.Optional {
				h.Logger.WarnContext(ctx, "provisioner: a build gets no external auth token", "provider", u.ID, "workspace", in.WorkspaceID, "error", err)
			}
			continue
		}
		env["CODER_EXTERNAL_AUTH_ACCESS_TOKEN_"+u.ID] = tok.AccessToken
	}
}

// ownerGroups is the owner's groups as the provider reads them: a JSON list of names.
func ownerGroups(names []string) string {
	if names == nil {
		names = []string{}
	}
	b, _ := json.Marshal(names)
	return string(b)
}

// buildEnv is the environment the coder/coder provider reads a workspace from.
func buildEnv(in dbsqlc.GetBuildJobInputRow, values, previous []parameter.Value) map[string]string {
	fullName := in.OwnerFullName
	if fullName == "" { // the provider would say "default"
		fullName = in.OwnerName
	}
	env := bootstrap.Env()
	maps.Copy(env, parameter.Env(values, previous))
	maps.Copy(env, map[string]string{
		"CODER_WORKSPACE_TRANSITION":       in.Transition,
		"CODER_WORKSPACE_ID":               in.WorkspaceID.String(),
		"CODER_WORKSPACE_NAME":             in.WorkspaceName,
		"CODER_WORKSPACE_BUILD_ID":         in.ID.String(),
		"CODER_WORKSPACE_OWNER":            in.OwnerName,
		"CODER_WORKSPACE_OWNER_ID":         in.OwnerID.String(),
		"CODER_WORKSPACE_OWNER_NAME":       fullName,
		"CODER_WORKSPACE_OWNER_EMAIL":      in.OwnerEmail,
		"CODER_WORKSPACE_OWNER_GROUPS":     ownerGroups(in.OwnerGroups),
		"CODER_WORKSPACE_OWNER_LOGIN_TYPE": map[bool]string{true: "oidc", false: "password"}[in.OwnerOidc],
		"CODER_WORKSPACE_OWNER_RBAC_ROLES": rbacRoles(in.OwnerRoles),
		"CODER_WORKSPACE_TEMPLATE_ID":      in.TemplateID.String(),
		"CODER_WORKSPACE_TEMPLATE_NAME":    in.TemplateName,
		"CODER_WORKSPACE_TEMPLATE_VERSION": in.VersionName,
	})
	if in.OwnerID == authz.PrebuildsOwner {
		// data.coder_workspace's is_prebuild and prebuild_count: the template can tell a prebuild's
		// builds (no user yet) from a user's.
		env["CODER_WORKSPACE_IS_PREBUILD"] = "true"
	}
	return env
}

// variables opens a version's Terraform variable values.
func (h handlers) variables(version uuid.UUID, sealed []byte) ([]Variable, error) {
	out := []Variable{}
	if len(sealed) == 0 {
		return out, nil
	}
	plain, err := h.Boxes.Variables.Open(sealed, version.String())
	if err != nil {
		return nil, fmt.Errorf("the variable values of template version %s: %w", version, err)
	}
	err = json.Unmarshal(plain, &out)
	return out, err
}

// completeBuild stores a successful build: its state, resources and agents (with hashed tokens).
// A delete build's success deletes the workspace.
func (h handlers) completeBuild(ctx context.Context, tx db.Tx, a jobAuth, res *BuildResult) error {
	if err := h.Claimer.Complete(ctx, tx.Raw, a.job, a.attempt); err != nil {
		return err
	}
	b, err := tx.GetWorkspaceBuildByJob(ctx, &a.job)
	if err != nil {
		return err
	}
	if _, err := tx.FinishWorkspaceBuild(ctx, dbsqlc.FinishWorkspaceBuildParams{JobID: a.job, Attempt: int32(a.attempt), //nolint:gosec
		State: h.Boxes.State.Seal(res.State, b.ID.String())}); err != nil {
		return err
	}
	if err := storeResources(ctx, tx, b.ID, res.Resources); err != nil {
		return err
	}
	if b.Transition == "delete" {
		if err := tx.MarkWorkspaceDeleted(ctx, b.WorkspaceID); err != nil {
			return err
		}
	}
	if err := h.scheduleAutostop(ctx, tx, b); err != nil {
		return err
	}
	return pgnotify.Notify(ctx, tx.Raw, provisioning.LogsChannel, fmt.Sprint(a.job))
}

// scheduleAutostop gives a workspace that just started its deadline (its TTL, else its template's
// default; none for 0) and the job that stops it then, in the build's transaction; a stop or delete
// clears the deadline. The maximum is the template's maximum TTL or its required stop at the
// owner's quiet hours, whichever comes first; neither activity nor extensions go past it.
func (h handlers) scheduleAutostop(ctx context.Context, tx db.Tx, b dbsqlc.WorkspaceBuild) error {
	w, err := tx.GetWorkspace(ctx, b.WorkspaceID)
	if err != nil {
		return err
	}
	if b.Transition != "start" {
		return tx.SetWorkspaceDeadline(ctx, dbsqlc.SetWorkspaceDeadlineParams{ID: w.ID})
	}
	ttl := w.TemplateDefaultTtlSeconds
	if w.TtlSeconds != nil {
		ttl = *w.TtlSeconds
	}
	now := time.Now()
	p := dbsqlc.SetWorkspaceDeadlineParams{ID: w.ID}
	if ttl > 0 {
		p.Deadline = ptr(now.Add(time.Duration(ttl) * time.Second))
	}
	if w.TemplateMaxTtlSeconds > 0 {
		p.MaxDeadline = ptr(now.Add(time.Duration(w.TemplateMaxTtlSeconds) * time.Second))
	}
	if at, ok := schedule.RequiredStop(w.OwnerQuietHoursSchedule, w.TemplateAutostopRequirementDays, now); ok && (p.MaxDeadline == nil || at.Before(*p.MaxDeadline)) {
		p.MaxDeadline = &at
	}
	if p.MaxDeadline != nil && (p.Deadline == nil || p.Deadline.After(*p.MaxDeadline)) {
		p.Deadline = p.MaxDeadline
	}
	if err := tx.SetWorkspaceDeadline(ctx, p); err != nil || p.Deadline == nil {
		return err
	}
	_, err = h.River.InsertTx(ctx, tx.Raw, jobargs.WorkspaceAutostop{WorkspaceID: w.ID.String(), BuildID: b.ID.String()},
		&river.InsertOpts{Queue: jobargs.QueueLifecycle, ScheduledAt: *p.Deadline, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	return err
}

func ptr[T any](v T) *T { return &v }

func storeResources(ctx context.Context, tx db.Tx, build uuid.UUID, resources []Resource) error {
	for _, r := range resources {
		meta, _ := json.Marshal(orEmptySlice(r.Metadata))
		row, err := tx.InsertWorkspaceResource(ctx, dbsqlc.InsertWorkspaceResourceParams{BuildID: build, Type: r.Type, Name: r.Name,
			Hide: r.Hide, Icon: r.Icon, DailyCost: int32(r.DailyCost), Metadata: meta}) //nolint:gosec // costs are small
		if err != nil {
			return err
		}
		for _, ag := range r.Agents {
			hash := sha256.Sum256([]byte(ag.Token))
			env, _ := json.Marshal(orEmptyMap(ag.Env))
			scripts, _ := json.Marshal(orEmptySlice(ag.Scripts))
			metadata, _ := json.Marshal(orEmptySlice(ag.Metadata))
			apps, _ := json.Marshal(orEmptySlice(ag.Apps))
			timeout := ag.ConnectionTimeoutSeconds
			if timeout == 0 {
				timeout = 120
			}
			if _, err := tx.InsertWorkspaceAgent(ctx, dbsqlc.InsertWorkspaceAgentParams{ResourceID: row.ID, BuildID: build, Name: ag.Name,
				Os: ag.OS, Arch: ag.Arch, Directory: ag.Directory, TokenHash: hash[:], Env: env, Scripts: scripts, Metadata: metadata,
				Apps: apps, MotdFile: ag.MOTDFile, TroubleshootingUrl: ag.TroubleshootingURL,
				ConnectionTimeoutSeconds: int32(timeout), DisplayApps: displayApps(ag.DisplayApps), DisplayOrder: int32(ag.Order),
				ResourcesMonitoring: jsonOr(ag.ResourcesMonitoring, "{}")}); err != nil { //nolint:gosec // validated small
				return err
			}
		}
	}
	return nil
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// rbacRoles is the owner's roles as the provider reads them: a JSON list of {name, org_id}, every
// user a member.
func rbacRoles(roles []string) string {
	out := []map[string]string{{"name": "member", "org_id": ""}}
	for _, r := range roles {
		out = append(out, map[string]string{"name": r, "org_id": ""})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// displayApps stores an agent's display_apps, the provider's defaults when the template left them out.
func displayApps(d *DisplayApps) []byte {
	if d == nil {
		d = &DefaultDisplayApps
	}
	b, _ := json.Marshal(d)
	return b
}

// jsonOr is v as JSON, or empty when v is nil.
func jsonOr[T any](v *T, empty string) []byte {
	if v == nil {
		return []byte(empty)
	}
	b, _ := json.Marshal(v)
	return b
}
