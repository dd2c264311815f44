// Package workspace serves workspaces and their builds. Every change to a workspace's infrastructure
// is a build: a row and its River job, inserted in one transaction, run by a provisioner worker. A
// workspace's status follows from its latest build (the workspace_status SQL function).
//
// Members see only their own workspaces; another member's answers 404, so existence does not leak.
// Template admins and auditors see all; owners see and change all.
package workspace

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/template"
	"github.com/hearthdev/hearth/internal/acl"
	"github.com/hearthdev/hearth/internal/activity"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coordinator"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/metadata"
	"github.com/hearthdev/hearth/internal/parameter"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/seal"
	"github.com/hearthdev/hearth/internal/tickets"
)

// Deps are what the resource needs.
type Deps struct {
	DB    *db.DB
	River *river.Client[pgx.Tx]
	// Variables opens template variable values, for evaluating dynamic parameters.
	Variables *seal.Box
	// Logs wakes followers of build logs (provisioning.LogsChannel).
	Logs     *pgnotify.Listener
	Security []map[string][]string
	Logger   *slog.Logger
	// Relay reaches agents through their tunnels; Activity records workspace use.
	Relay    *relay.Relay
	Activity *activity.Recorder
	// Version is the server's, reported by agents for comparison.
	Version string
	// Metadata buffers agents' metadata reports; without it they are written one by one.
	Metadata *metadata.Buffer
	// Tickets signs connection tickets for workspace proxies.
	Tickets *tickets.Signer
	// Coordinator passes tailnet nodes between agents and clients (nil: direct connections off);
	// Auth checks again, while a client coordinates or a relayed stream is open, that its token
	// still holds, when AuthzChanges says so (nil: every second).
	Coordinator  *coordinator.Coordinator
	Auth         *authn.Authenticator
	AuthzChanges *authz.Changes
	// ExternalAuth holds owners' external auth links, whose tokens agents ask for; AccessURL is
	// where users link them.
	ExternalAuth *externalauth.Links
	AccessURL    string
	// GitSSHKeys opens owners' Git SSH keys, which agents offer to Git.
	GitSSHKeys *seal.Box
}

type handlers struct {
	Deps
	// agents caches agent tokens' identities (nil: none).
	agents *agentCache
}

// Register adds the operations.
func Register(api huma.API, d Deps) {
	h := handlers{Deps: d, agents: newAgentCache()}
	errs := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	op := func(id, method, path, summary, desc string, extra ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{"Workspaces"}, Security: d.Security, Errors: append(errs, extra...)}
	}
	create := op("create-workspace", http.MethodPost, "/api/v2/workspaces", "Create a workspace",
		"From a template (its active version unless another is named), with parameter values checked against the version's parameters; starts it with the first build.",
		http.StatusBadRequest, http.StatusConflict)
	create.DefaultStatus = http.StatusCreated
	huma.Register(api, create, h.create)
	huma.Register(api, op("list-workspaces", http.MethodGet, "/api/v2/workspaces", "List workspaces",
		"Those the caller may see, filtered by q (owner:me, owner:NAME, template:NAME, status:running, and words matched against names), by owner and name."), h.list)
	huma.Register(api, op("get-workspace", http.MethodGet, "/api/v2/workspaces/{workspace}", "Get a workspace",
		"With its latest build, resources and agents. Deleted workspaces are found by ID, with status deleted."), h.get)
	huma.Register(api, op("get-workspace-by-owner-and-name", http.MethodGet, "/api/v2/users/{user}/workspaces/{name}",
		"Get a workspace by owner and name", "user is me, a user ID or a username."), h.getByName)
	huma.Register(api, op("update-workspace", http.MethodPatch, "/api/v2/workspaces/{workspace}", "Rename a workspace",
		"The new name reaches Terraform at the next build.", http.StatusConflict), h.rename)
	del := op("delete-workspace", http.MethodDelete, "/api/v2/workspaces/{workspace}", "Delete a workspace",
		"Starts a delete build (202), the same as create-workspace-build with transition delete; orphan=true deletes the workspace without running Terraform, for infrastructure that is already gone.",
		http.StatusConflict)
	del.DefaultStatus = http.StatusAccepted
	huma.Register(api, del, h.delete)
	registerBuilds(api, h, op)
	registerSharing(api, h, op)
	registerQuota(api, h, op)
	huma.Register(api, op("list-prebuild-pools", http.MethodGet, "/api/v2/prebuilds", "List the pools of prebuilt workspaces",
		"Each preset that asks for prebuilds, as the reconciler last saw its pool: desired, running, eligible (agents ready), starting, failed in the last hour. "+
			"For template admins, owners and auditors."), h.pools)
	registerAgent(api, h, op)
	registerAgentExternalAuth(api, h)
	registerAgentGitSSHKey(api, h)
	registerSchedule(api, h, op)
	registerWatch(api, h, op)
	registerConnect(api, h, op)
	registerCoordinate(api, h, op)
	registerProxied(api, h, op)
}

// Workspace is a workspace with its latest build.
type Workspace struct {
	ID                  uuid.UUID `json:"id"`
	Name                string    `json:"name"`
	OwnerID             uuid.UUID `json:"owner_id"`
	OwnerName           string    `json:"owner_name"`
	TemplateID          uuid.UUID `json:"template_id"`
	TemplateName        string    `json:"template_name"`
	TemplateDisplayName string    `json:"template_display_name"`
	TemplateIcon        string    `json:"template_icon"`
	Status              string    `json:"status" enum:"pending,starting,running,stopping,stopped,failed,canceling,canceled,deleting,deleted"`
	// Outdated means the latest build is not of the template's active version: update to move.
	Outdated    bool      `json:"outdated"`
	LatestBuild Build     `json:"latest_build"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	LastUsedAt  time.Time `json:"last_used_at"`
	// Autostop: the workspace's own TTL (null: the template's default), the deadline of a running
	// workspace and the latest it may be moved to.
	TTLSeconds                *int64     `json:"ttl_seconds" nullable:"true" doc:"Seconds a start lasts; null: the template's default (template_default_ttl_seconds); 0: until stopped."`
	TemplateDefaultTTLSeconds int64      `json:"template_default_ttl_seconds"`
	Deadline                  *time.Time `json:"deadline,omitempty" doc:"When the running workspace stops by itself; activity moves it later."`
	MaxDeadline               *time.Time `json:"max_deadline,omitempty" doc:"The latest the deadline may move to (the template's maximum)."`
	AutostartSchedule         string     `json:"autostart_schedule" doc:"The cron schedule a stopped workspace starts at; empty for none."`
	NextAutostartAt           *time.Time `json:"next_autostart_at,omitempty" doc:"The schedule's next time."`
	// NextTransition is what the schedule does next, for "stops in 23 min".
	NextTransition *NextTransition `json:"next_transition,omitempty"`
	DormantAt      *time.Time      `json:"dormant_at,omitempty" doc:"Since when the workspace is dormant (unused longer than its template allows): stopped, and it cannot start until made active again."`
	DeletingAt     *time.Time      `json:"deleting_at,omitempty" doc:"When the dormant workspace will be deleted, if its template deletes dormant workspaces."`
}

// NextTransition is the next build a workspace's schedule will start.
type NextTransition struct {
	Transition string    `json:"transition" enum:"start,stop,delete"`
	At         time.Time `json:"at"`
}

// nextTransition is a running workspace's autostop, or a stopped one's autostart.
func nextTransition(w dbsqlc.WorkspaceOverview) *NextTransition {
	switch {
	case w.Status == "running" && w.Deadline != nil:
		return &NextTransition{Transition: "stop", At: *w.Deadline}
	case w.DormantAt != nil:
		if at := deletingAt(w); at != nil {
			return &NextTransition{Transition: "delete", At: *at}
		}
	case w.Status == "stopped" && w.NextAutostartAt != nil:
		return &NextTransition{Transition: "start", At: *w.NextAutostartAt}
	}
	return nil
}

// deletingAt is when a dormant workspace is deleted, if its template deletes them.
func deletingAt(w dbsqlc.WorkspaceOverview) *time.Time {
	if w.DormantAt == nil || w.TemplateDormancyDeleteSeconds <= 0 {
		return nil
	}
	at := w.DormantAt.Add(time.Duration(w.TemplateDormancyDeleteSeconds) * time.Second)
	return &at
}

func toWorkspace(w dbsqlc.WorkspaceOverview) Workspace {
	return Workspace{ID: w.ID, Name: w.Name, OwnerID: w.OwnerID, OwnerName: w.OwnerName, TemplateID: w.TemplateID,
		TemplateName: w.TemplateName, TemplateDisplayName: w.TemplateDisplayName, TemplateIcon: w.TemplateIcon,
		Status: w.Status, Outdated: w.TemplateVersionID != w.TemplateActiveVersionID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		LastUsedAt: w.LastUsedAt, TTLSeconds: w.TtlSeconds, TemplateDefaultTTLSeconds: w.TemplateDefaultTtlSeconds,
		Deadline: w.Deadline, MaxDeadline: w.MaxDeadline, AutostartSchedule: w.AutostartSchedule, NextAutostartAt: w.NextAutostartAt,
		NextTransition: nextTransition(w), DormantAt: w.DormantAt, DeletingAt: deletingAt(w),
		LatestBuild: Build{ID: w.BuildID, WorkspaceID: w.ID, Number: w.BuildNumber, Transition: w.BuildTransition,
			Status: w.BuildStatus, TemplateVersionID: w.TemplateVersionID, JobID: w.BuildJobID, Error: w.BuildError,
			CreatedAt: w.BuildCreatedAt, CompletedAt: w.BuildCompletedAt, Parameters: []parameter.Value{}, Resources: []Resource{},
			Diagnostics: []provisioner.Diagnostic{}}}
}

// WorkspaceOutput is one workspace.
type WorkspaceOutput struct {
	Body Workspace
}

// allowed checks that the caller may do action (authz.ReadWorkspace, UseWorkspace or AdminWorkspace)
// to the workspace id of owner, as its owner or through its access list.
func allowed(ctx context.Context, q *dbsqlc.Queries, id, owner uuid.UUID, action authz.Action) error {
	w, err := acl.Workspace(ctx, q, id, owner)
	if err != nil {
		return err
	}
	return authz.AuthorizeWorkspace(ctx, action, w)
}

// visible reports whether the caller may see the workspace (an error reading its access list is an
// error, not a no).
func visible(ctx context.Context, q *dbsqlc.Queries, id, owner uuid.UUID) (bool, error) {
	err := allowed(ctx, q, id, owner, authz.ReadWorkspace)
	if errors.Is(err, authz.ErrForbidden) {
		return false, nil
	}
	return err == nil, err
}

func notFound(ref string) error {
	return huma.Error404NotFound("No workspace " + ref + ".")
}

// WorkspacePath names a workspace by ID.
type WorkspacePath struct {
	Workspace uuid.UUID `path:"workspace" doc:"The workspace's ID."`
}

// find loads a workspace the caller may see, or answers 404.
func (h handlers) find(ctx context.Context, q *dbsqlc.Queries, id uuid.UUID) (dbsqlc.WorkspaceOverview, error) {
	w, err := q.GetWorkspace(ctx, id)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return w, notFound(id.String())
	}
	if err != nil {
		return w, err
	}
	if ok, err := visible(ctx, q, w.ID, w.OwnerID); !ok {
		return w, cmp.Or(err, notFound(id.String()))
	}
	return w, nil
}

type createInput struct {
	Body struct {
		Name              string            `json:"name" minLength:"1" maxLength:"32" pattern:"^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$" doc:"Unique among the owner's workspaces (case-insensitively)."`
		Template          string            `json:"template" minLength:"1" maxLength:"36" doc:"A template ID or name."`
		TemplateVersionID *uuid.UUID        `json:"template_version_id,omitempty" doc:"A version of the template; defaults to its active version."`
		Owner             string            `json:"owner,omitempty" maxLength:"36" doc:"me (the default), a user ID or a username; others' need the owner role."`
		Parameters        []parameter.Value `json:"parameters,omitempty" maxItems:"100"`
		Preset            string            `json:"preset,omitempty" maxLength:"128" doc:"A preset of the version (coder_workspace_preset), by name: its parameter values are used; parameters it does not set come from parameters or defaults."`
	}
}

func (h handlers) create(ctx context.Context, in *createInput) (*WorkspaceOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageOwnWorkspaces); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	owner, err := h.owner(ctx, a, in.Body.Owner)
	if err != nil {
		return nil, err
	}
	var out dbsqlc.WorkspaceOverview
	var handed claimed
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		t, err := template.Lookup(ctx, tx.Queries, in.Body.Template, "body.template", authz.UseTemplate)
		if err != nil {
			return err
		}
		if t, err = tx.ShareLockTemplate(ctx, t.ID); err != nil {
			return db.Translate(err)
		}
		version := t.ActiveVersionID
		if in.Body.TemplateVersionID != nil {
			version = *in.Body.TemplateVersionID
		}
		taken := func(err error) error {
			if db.IsUniqueViolation(err, "workspaces_owner_name") {
				return huma.Error409Conflict(owner.Username+" already has a workspace named "+in.Body.Name+".",
					&huma.ErrorDetail{Location: "body.name", Message: "taken", Value: in.Body.Name})
			}
			return err
		}
		// A preset with prebuilds: a ready one becomes this workspace, with no build at all, when
		// the parameters asked for are the prebuild's (the CLI and the dashboard send them all).
		if in.Body.Preset != "" && version == t.ActiveVersionID {
			w, c, ok, err := h.claim(ctx, tx, t.ID, in.Body.Preset, owner, in.Body.Name, in.Body.Parameters)
			if err != nil {
				return taken(err)
			}
			if ok {
				v, err := tx.GetTemplateVersion(ctx, version)
				if err != nil {
					return err
				}
				if err := CheckQuota(ctx, tx, w, v); err != nil {
					return err
				}
				handed = c
				if out, err = tx.GetWorkspace(ctx, w.ID); err != nil {
					return err
				}
				return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace", ID: w.ID.String(), Name: w.Name},
					audit.Diff(nil, toWorkspace(out)))
			}
		}
		w, err := tx.InsertWorkspace(ctx, dbsqlc.InsertWorkspaceParams{OwnerID: owner.ID, TemplateID: t.ID, Name: in.Body.Name})
		if err != nil {
			return taken(err)
		}
		if in.Body.Preset != "" {
			if err := tx.SetWorkspacePreset(ctx, dbsqlc.SetWorkspacePresetParams{ID: w.ID, Preset: in.Body.Preset}); err != nil {
				return err
			}
		}
		if _, err := h.startBuild(ctx, tx, w, buildRequest{Transition: "start", VersionID: &version, Parameters: in.Body.Parameters,
			Preset: in.Body.Preset, versionField: "body.template_version_id"}, true); err != nil {
			return err
		}
		if out, err = tx.GetWorkspace(ctx, w.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace", ID: w.ID.String(), Name: w.Name}, audit.Diff(nil, toWorkspace(out)))
	})
	if err != nil {
		return nil, err
	}
	if handed.tokens != nil {
		h.handOver(ctx, handed)
	}
	return &WorkspaceOutput{Body: toWorkspace(out)}, nil
}

// owner resolves who a new workspace is for: the caller, or (for owners) anyone.
func (h handlers) owner(ctx context.Context, a authz.Actor, ref string) (dbsqlc.User, error) {
	var (
		u   dbsqlc.User
		err error
	)
	switch id, perr := uuid.Parse(ref); {
	case ref == "" || ref == "me" || ref == a.Username || id == a.UserID:
		u, err = h.DB.GetUserByID(ctx, a.UserID)
		return u, err
	case perr == nil:
		u, err = h.DB.GetUserByID(ctx, id)
	default:
		u, err = h.DB.GetUserByUsername(ctx, strings.ToLower(ref))
	}
	if err := authz.Authorize(ctx, authz.ManageWorkspaces); err != nil {
		return u, huma.Error403Forbidden("Only owners create workspaces for others.", &huma.ErrorDetail{Location: "body.owner", Message: "not you", Value: ref})
	}
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return u, huma.Error404NotFound("No user "+ref+".", &huma.ErrorDetail{Location: "body.owner", Message: "not found", Value: ref})
	}
	return u, err
}

type listInput struct {
	Q      string `query:"q" maxLength:"256" doc:"Filters: owner:me, owner:NAME, template:NAME, status:STATUS; other words are matched against names." example:"owner:me status:running"`
	Limit  int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Offset int    `query:"offset" minimum:"0"`
}

// WorkspacesOutput is a page of workspaces.
type WorkspacesOutput struct {
	Body struct {
		Workspaces []Workspace `json:"workspaces"`
		Count      int64       `json:"count" doc:"How many match, over all pages."`
	}
}

var statuses = []string{"pending", "starting", "running", "stopping", "stopped", "failed", "canceling", "canceled", "deleting", "deleted"}

func (h handlers) list(ctx context.Context, in *listInput) (*WorkspacesOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	p := dbsqlc.ListWorkspacesParams{Lim: int32(in.Limit), Off: int32(in.Offset)} //nolint:gosec // bounded above
	var words []string
	for _, f := range strings.Fields(in.Q) {
		key, value, ok := strings.Cut(f, ":")
		switch {
		case !ok:
			words = append(words, f)
		case key == "owner" && value == "me":
			p.OwnerID = &a.UserID
		case key == "owner":
			p.OwnerName = strings.ToLower(value)
		case key == "template":
			p.TemplateName = value
		case key == "status":
			if !slices.Contains(statuses, value) {
				return nil, huma.Error400BadRequest("Unknown status "+value+"; one of "+strings.Join(statuses, ", ")+".",
					&huma.ErrorDetail{Location: "query.q", Message: "unknown status", Value: value})
			}
			p.Status = value
		default:
			return nil, huma.Error400BadRequest("Unknown filter "+key+"; use owner:, template: or status:.",
				&huma.ErrorDetail{Location: "query.q", Message: "unknown filter", Value: f})
		}
	}
	p.Search = strings.Join(words, " ")
	p.VisibleGroups = []uuid.UUID{}
	if authz.Authorize(ctx, authz.ReadAnyWorkspaces) != nil {
		// Members list their own and those shared with them.
		p.VisibleTo, p.VisibleGroups = &a.UserID, a.VisibleGroups()
	}
	rows, err := h.DB.ListWorkspaces(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &WorkspacesOutput{}
	out.Body.Workspaces = make([]Workspace, len(rows))
	for i, r := range rows {
		out.Body.Workspaces[i] = toWorkspace(r.WorkspaceOverview)
		out.Body.Count = r.Total
	}
	if len(rows) == 0 && in.Offset > 0 {
		// Past the end: count all the same.
		p.Off, p.Lim = 0, 1
		if all, err := h.DB.ListWorkspaces(ctx, p); err == nil && len(all) > 0 {
			out.Body.Count = all[0].Total
		}
	}
	return out, nil
}

func (h handlers) get(ctx context.Context, in *WorkspacePath) (*WorkspaceOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	w, err := h.find(ctx, h.DB.Queries, in.Workspace)
	if err != nil {
		return nil, err
	}
	return h.withResources(ctx, w)
}

// withResources answers a workspace with its latest build's parameters, resources and agents.
func (h handlers) withResources(ctx context.Context, w dbsqlc.WorkspaceOverview) (*WorkspaceOutput, error) {
	out := &WorkspaceOutput{Body: toWorkspace(w)}
	b, err := h.DB.GetWorkspaceBuild(ctx, w.BuildID)
	if err != nil {
		return nil, err
	}
	if out.Body.LatestBuild, err = h.toBuild(ctx, b); err != nil {
		return nil, err
	}
	return out, nil
}

type byNameInput struct {
	User string `path:"user" minLength:"1" maxLength:"36" doc:"me, a user ID, or a username." example:"me"`
	Name string `path:"name" minLength:"1" maxLength:"32"`
}

func (h handlers) getByName(ctx context.Context, in *byNameInput) (*WorkspaceOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	owner := in.User
	if a, _ := authz.ActorFrom(ctx); owner == "me" || owner == a.UserID.String() {
		owner = a.Username
	} else if id, err := uuid.Parse(owner); err == nil {
		u, err := h.DB.GetUserByID(ctx, id)
		if err != nil {
			return nil, notFound(in.User + "/" + in.Name)
		}
		owner = u.Username
	}
	w, err := h.DB.GetWorkspaceByOwnerAndName(ctx, dbsqlc.GetWorkspaceByOwnerAndNameParams{Owner: owner, Name: in.Name})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, notFound(in.User + "/" + in.Name)
	}
	if err != nil {
		return nil, err
	}
	if ok, err := visible(ctx, h.DB.Queries, w.ID, w.OwnerID); !ok {
		return nil, cmp.Or(err, notFound(in.User+"/"+in.Name))
	}
	return h.withResources(ctx, w)
}

type renameInput struct {
	WorkspacePath
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"32" pattern:"^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$"`
	}
}

func (h handlers) rename(ctx context.Context, in *renameInput) (*WorkspaceOutput, error) {
	return h.change(ctx, in.Workspace, func(tx db.Tx, w dbsqlc.WorkspaceOverview) error {
		err := tx.RenameWorkspace(ctx, dbsqlc.RenameWorkspaceParams{ID: w.ID, Name: in.Body.Name})
		if db.IsUniqueViolation(err, "workspaces_owner_name") {
			return huma.Error409Conflict(w.OwnerName+" already has a workspace named "+in.Body.Name+".",
				&huma.ErrorDetail{Location: "body.name", Message: "taken", Value: in.Body.Name})
		}
		return err
	})
}

type deleteInput struct {
	WorkspacePath
	Orphan bool `query:"orphan" doc:"Delete without running Terraform: for a workspace whose infrastructure is already gone."`
}

func (h handlers) delete(ctx context.Context, in *deleteInput) (*BuildOutput, error) {
	return h.newBuild(ctx, in.Workspace, buildRequest{Transition: "delete", Orphan: in.Orphan})
}

// change runs change on a workspace the caller may administer, locked, audits it and answers with it.
func (h handlers) change(ctx context.Context, id uuid.UUID, change func(tx db.Tx, w dbsqlc.WorkspaceOverview) error) (*WorkspaceOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	var out dbsqlc.WorkspaceOverview
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		before, err := h.find(ctx, tx.Queries, id)
		if err != nil {
			return err
		}
		if err := allowed(ctx, tx.Queries, before.ID, before.OwnerID, authz.AdminWorkspace); err != nil {
			return err
		}
		if before.Deleted {
			return huma.Error409Conflict("The workspace is deleted.")
		}
		if _, err := tx.LockWorkspace(ctx, before.ID); err != nil {
			return err
		}
		if err := change(tx, before); err != nil {
			return err
		}
		if out, err = tx.GetWorkspace(ctx, before.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace", ID: out.ID.String(), Name: out.Name},
			audit.Diff(toWorkspace(before), toWorkspace(out)))
	})
	if err != nil {
		return nil, err
	}
	return &WorkspaceOutput{Body: toWorkspace(out)}, nil
}
