package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/template"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coderprovider"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/parameter"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

func registerBuilds(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	create := op("create-workspace-build", http.MethodPost, "/api/v2/workspaces/{workspace}/builds", "Start, stop, update or delete a workspace",
		"A build with a transition. start with template_version_id updates the workspace to that version; parameters change values (checked against the version's parameters). One build per workspace runs at a time: 409 while another is pending or running.",
		http.StatusBadRequest, http.StatusConflict)
	create.DefaultStatus = http.StatusCreated
	huma.Register(api, create, h.createBuild)
	huma.Register(api, op("list-workspace-builds", http.MethodGet, "/api/v2/workspaces/{workspace}/builds", "List a workspace's builds",
		"Newest first."), h.listBuilds)
	huma.Register(api, op("get-workspace-build", http.MethodGet, "/api/v2/workspacebuilds/{build}", "Get a workspace build",
		"With its parameters, resources and agents."), h.getBuild)
	huma.Register(api, op("cancel-workspace-build", http.MethodPost, "/api/v2/workspacebuilds/{build}/cancel", "Cancel a workspace build",
		"A pending build is canceled at once; a running one is canceling until its worker has interrupted Terraform.", http.StatusConflict), h.cancelBuild)
	registerLogs(api, h, op)
}

// Build is a workspace build.
type Build struct {
	ID                uuid.UUID  `json:"id"`
	WorkspaceID       uuid.UUID  `json:"workspace_id"`
	Number            int32      `json:"number"`
	Transition        string     `json:"transition" enum:"start,stop,delete"`
	Status            string     `json:"status" enum:"pending,running,succeeded,failed,canceling,canceled"`
	TemplateVersionID uuid.UUID  `json:"template_version_id"`
	InitiatorID       *uuid.UUID `json:"initiator_id,omitempty"`
	JobID             *int64     `json:"job_id,omitempty" doc:"The provisioner job; none for an orphan delete."`
	Orphan            bool       `json:"orphan"`
	Error             string     `json:"error,omitempty"`
	// Diagnostics are Terraform's, of a failed build.
	Diagnostics []provisioner.Diagnostic `json:"diagnostics"`
	Parameters  []parameter.Value        `json:"parameters"`
	Resources   []Resource               `json:"resources" doc:"What the build made (empty in lists and until it succeeds)."`
	Stages      []Stage                  `json:"stages" doc:"How long each stage took, in the order they ran (filled when builds are listed or one is read; empty until the build logs)."`
	CreatedAt   time.Time                `json:"created_at"`
	StartedAt   *time.Time               `json:"started_at,omitempty"`
	CompletedAt *time.Time               `json:"completed_at,omitempty"`
}

// Resource is a resource a build made, with its agents.
type Resource struct {
	ID        uuid.UUID                  `json:"id"`
	Type      string                     `json:"type"`
	Name      string                     `json:"name"`
	Hide      bool                       `json:"hide"`
	Icon      string                     `json:"icon"`
	DailyCost int32                      `json:"daily_cost"`
	Metadata  []provisioner.MetadataItem `json:"metadata"`
	Agents    []Agent                    `json:"agents"`
}

// Agent is an agent of a build, as the template declared it.
type Agent struct {
	ID                       uuid.UUID                   `json:"id"`
	Name                     string                      `json:"name"`
	OS                       string                      `json:"os"`
	Arch                     string                      `json:"arch"`
	Directory                string                      `json:"directory"`
	Apps                     []provisioner.App           `json:"apps"`
	Scripts                  []provisioner.Script        `json:"scripts"`
	Metadata                 []provisioner.AgentMetadata `json:"metadata"`
	ConnectionTimeoutSeconds int32                       `json:"connection_timeout_seconds"`
	TroubleshootingURL       string                      `json:"troubleshooting_url"`
	DisplayApps              provisioner.DisplayApps     `json:"display_apps" doc:"Which built-in apps to show for it (coder_agent display_apps)."`
	Order                    int32                       `json:"order" doc:"Agents are listed by order, then name."`
	// Status is the tunnel's: connecting, connected, disconnected, or timeout (never connected
	// within the connection timeout).
	Status         string            `json:"status" enum:"connecting,connected,disconnected,timeout"`
	LifecycleState string            `json:"lifecycle_state" enum:"created,starting,ready,start_error,start_timeout,shutting_down,shutdown_error,shutdown_timeout,off"`
	Version        string            `json:"version"`
	AppHealth      map[string]string `json:"app_health" doc:"Health of apps with a health check, by slug."`
	// When the agent connected first and last, disconnected, started its scripts and became ready.
	FirstConnectedAt *time.Time `json:"first_connected_at,omitempty"`
	LastConnectedAt  *time.Time `json:"last_connected_at,omitempty"`
	DisconnectedAt   *time.Time `json:"disconnected_at,omitempty"`
	StartedAt        *time.Time `json:"started_at,omitempty"`
	ReadyAt          *time.Time `json:"ready_at,omitempty"`
}

func (h handlers) toBuild(ctx context.Context, b dbsqlc.WorkspaceBuild) (Build, error) {
	out := buildSummary(b)
	resources, err := h.DB.ListWorkspaceResources(ctx, b.ID)
	if err != nil {
		return out, err
	}
	agents, err := h.DB.ListWorkspaceAgents(ctx, b.ID)
	if err != nil {
		return out, err
	}
	for _, r := range resources {
		res := Resource{ID: r.ID, Type: r.Type, Name: r.Name, Hide: r.Hide, Icon: r.Icon, DailyCost: r.DailyCost,
			Metadata: []provisioner.MetadataItem{}, Agents: []Agent{}}
		_ = json.Unmarshal(r.Metadata, &res.Metadata) // all JSON written by us
		for i, m := range res.Metadata {
			if m.Sensitive {
				res.Metadata[i].Value = ""
			}
		}
		for _, a := range agents {
			if a.WorkspaceAgent.ResourceID == r.ID {
				res.Agents = append(res.Agents, toAgent(a.WorkspaceAgent, a.ReplicaLastSeenAt))
			}
		}
		out.Resources = append(out.Resources, res)
	}
	return out, nil
}

func buildSummary(b dbsqlc.WorkspaceBuild) Build {
	out := Build{ID: b.ID, WorkspaceID: b.WorkspaceID, Number: b.Number, Transition: b.Transition, Status: b.Status,
		TemplateVersionID: b.TemplateVersionID, InitiatorID: b.InitiatorID, JobID: b.JobID, Orphan: b.Orphan, Error: b.Error,
		Parameters: []parameter.Value{}, Resources: []Resource{}, CreatedAt: b.CreatedAt, StartedAt: b.StartedAt, CompletedAt: b.CompletedAt,
		Diagnostics: []provisioner.Diagnostic{}, Stages: []Stage{}}
	_ = json.Unmarshal(b.Parameters, &out.Parameters)
	_ = json.Unmarshal(b.Diagnostics, &out.Diagnostics)
	return out
}

// BuildOutput is one build.
type BuildOutput struct {
	Body Build
}

// buildRequest is what a new build asks for.
type buildRequest struct {
	Transition   string
	VersionID    *uuid.UUID
	Parameters   []parameter.Value
	Preset       string // a preset's name: its values join Parameters
	Orphan       bool
	versionField string
}

// action is what the request does to the workspace: starting or stopping it as it is is using it;
// deleting it, or changing its version or parameters, administering it.
func (r buildRequest) action() authz.Action {
	if (r.Transition == "start" || r.Transition == "stop") && r.VersionID == nil && len(r.Parameters) == 0 && r.Preset == "" && !r.Orphan {
		return authz.UseWorkspace
	}
	return authz.AdminWorkspace
}

type createBuildInput struct {
	WorkspacePath
	Body struct {
		Transition        string            `json:"transition" enum:"start,stop,delete"`
		TemplateVersionID *uuid.UUID        `json:"template_version_id,omitempty" doc:"Build this version of the workspace's template (an update); defaults to the latest build's."`
		Parameters        []parameter.Value `json:"parameters,omitempty" maxItems:"100" doc:"New values; the others keep the latest build's."`
		Orphan            bool              `json:"orphan,omitempty" doc:"With delete: remove the workspace without running Terraform."`
	}
}

func (h handlers) createBuild(ctx context.Context, in *createBuildInput) (*BuildOutput, error) {
	if in.Body.Orphan && in.Body.Transition != "delete" {
		return nil, huma.Error400BadRequest("orphan goes only with transition delete.", &huma.ErrorDetail{Location: "body.orphan", Message: "only with delete"})
	}
	return h.newBuild(ctx, in.Workspace, buildRequest{Transition: in.Body.Transition, VersionID: in.Body.TemplateVersionID,
		Parameters: in.Body.Parameters, Orphan: in.Body.Orphan, versionField: "body.template_version_id"})
}

// newBuild starts a build of a workspace the caller may change.
func (h handlers) newBuild(ctx context.Context, id uuid.UUID, req buildRequest) (*BuildOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	var b dbsqlc.WorkspaceBuild
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		w, err := h.find(ctx, tx.Queries, id)
		if err != nil {
			return err
		}
		if err := allowed(ctx, tx.Queries, w.ID, w.OwnerID, req.action()); err != nil {
			return err
		}
		locked, err := tx.LockWorkspace(ctx, w.ID)
		if err != nil {
			return err
		}
		if b, err = h.startBuild(ctx, tx, locked, req, false); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace_build", ID: b.ID.String(), Name: w.Name + " " + req.Transition},
			audit.Diff(nil, buildSummary(b)))
	})
	if err != nil {
		return nil, err
	}
	return &BuildOutput{Body: buildSummary(b)}, nil
}

// ScheduledBuild starts a build of a locked workspace for its schedule or its template's policies
// (autostart, autostop, dormancy, failure TTL), with an audit entry by system:scheduler naming action.
func ScheduledBuild(d Deps) func(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error {
	h := handlers{Deps: d}
	return func(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error {
		ctx = audit.Start(authz.AsScheduler(ctx), audit.Request{Action: action, Status: http.StatusCreated})
		b, err := h.startBuild(ctx, tx, w, buildRequest{Transition: transition}, false)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace_build", ID: b.ID.String(), Name: w.Name + " " + transition},
			audit.Diff(nil, buildSummary(b)))
	}
}

// startBuild inserts a build of w (locked by the caller, or new) and its job. creating is true for
// a workspace's first build.
func (h handlers) startBuild(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, req buildRequest, creating bool) (dbsqlc.WorkspaceBuild, error) {
	if w.Deleted {
		return dbsqlc.WorkspaceBuild{}, huma.Error409Conflict("The workspace is deleted.")
	}
	if w.DormantAt != nil && req.Transition == "start" {
		return dbsqlc.WorkspaceBuild{}, huma.Error409Conflict(fmt.Sprintf("Workspace %s is dormant since %s (unused for longer than its template allows): make it active first (PUT /api/v2/workspaces/%s/dormant with dormant false, or hearth schedule wake).",
			w.Name, w.DormantAt.UTC().Format(time.DateOnly), w.ID), &huma.ErrorDetail{Location: "path.workspace", Message: "dormant", Value: w.ID})
	}
	var previous []parameter.Value
	versionID := req.VersionID
	if !creating {
		last, err := tx.LatestBuildWithParameters(ctx, dbsqlc.LatestBuildWithParametersParams{WorkspaceID: w.ID, Before: 1 << 30})
		if err != nil {
			return dbsqlc.WorkspaceBuild{}, err
		}
		switch {
		case last.Status == "pending" || last.Status == "running" || last.Status == "canceling":
			return dbsqlc.WorkspaceBuild{}, huma.Error409Conflict(fmt.Sprintf("Build #%d (%s) is %s; wait for it or cancel it.", last.Number, last.Transition, last.Status),
				&huma.ErrorDetail{Location: "path.workspace", Message: "a build is under way", Value: last.ID})
		case last.ResultGraceUntil != nil && last.ResultGraceUntil.After(time.Now()):
			return dbsqlc.WorkspaceBuild{}, huma.Error409Conflict(fmt.Sprintf("Build #%d (%s) failed because its provisioner worker stopped responding; "+
				"if the worker was only cut off, its result may still arrive. Try again after %s.", last.Number, last.Transition,
				last.ResultGraceUntil.UTC().Format("15:04:05 UTC")),
				&huma.ErrorDetail{Location: "path.workspace", Message: "the last build's result may still arrive", Value: last.ID})
		}
		_ = json.Unmarshal(last.Parameters, &previous)
		if versionID == nil {
			versionID = &last.TemplateVersionID
		}
	}
	v, err := tx.GetTemplateVersion(ctx, *versionID)
	if errors.Is(db.Translate(err), db.ErrNotFound) || (err == nil && (v.TemplateID == nil || *v.TemplateID != w.TemplateID)) {
		return dbsqlc.WorkspaceBuild{}, huma.Error404NotFound("The workspace's template has no version "+versionID.String()+".",
			&huma.ErrorDetail{Location: req.versionField, Message: "not a version of the template", Value: versionID})
	}
	if err != nil {
		return dbsqlc.WorkspaceBuild{}, err
	}
	if req.VersionID != nil || creating { // a version chosen now must be usable; the current one may since have been archived
		if v.Status != "succeeded" || v.Archived {
			return dbsqlc.WorkspaceBuild{}, huma.Error409Conflict("Template version "+v.Name+" cannot be built: it is "+map[bool]string{true: "archived", false: "not imported (" + v.Status + ")"}[v.Archived]+".",
				&huma.ErrorDetail{Location: req.versionField, Message: "not buildable", Value: v.ID})
		}
	}
	given, err := withPreset(v, req.Preset, req.Parameters)
	if err != nil {
		return dbsqlc.WorkspaceBuild{}, err
	}
	chosen := map[string]string{}
	for _, p := range previous {
		chosen[p.Name] = p.Value
	}
	for _, p := range given {
		chosen[p.Name] = p.Value
	}
	dynamic, evaluated, err := template.Evaluate(ctx, tx.Queries, h.Variables, v, w.OwnerID, w.Name, chosen)
	if err != nil {
		return dbsqlc.WorkspaceBuild{}, err
	}
	if !dynamic {
		evaluated = nil
	}
	values, err := resolve(v, previous, given, creating, evaluated)
	if err != nil {
		return dbsqlc.WorkspaceBuild{}, err
	}
	if req.Transition == "start" {
		if err := CheckQuota(ctx, tx, w, v); err != nil {
			return dbsqlc.WorkspaceBuild{}, err
		}
		if err := h.checkExternalAuth(ctx, tx, w, v); err != nil {
			return dbsqlc.WorkspaceBuild{}, err
		}
	}
	raw, _ := json.Marshal(values)
	p := dbsqlc.InsertWorkspaceBuildParams{WorkspaceID: w.ID, TemplateVersionID: v.ID, Transition: req.Transition,
		Parameters: raw, Orphan: req.Orphan, Status: "pending"}
	if a, err := authz.ActorFrom(ctx); err == nil && a.UserID != uuid.Nil {
		p.InitiatorID = &a.UserID // none for the scheduler's builds
	}
	if req.Orphan {
		now := time.Now()
		p.Status, p.CompletedAt = "succeeded", &now
	}
	b, err := tx.InsertWorkspaceBuild(ctx, p)
	if db.IsUniqueViolation(err, "workspace_builds_one_active") {
		return b, huma.Error409Conflict("Another build of the workspace is under way; wait for it or cancel it.")
	}
	if err != nil {
		return b, err
	}
	if req.Orphan {
		return b, tx.MarkWorkspaceDeleted(ctx, w.ID)
	}
	tags, err := buildTags(v, values)
	if err != nil {
		return b, err
	}
	queue := jobargs.ProvisionerQueue(tags)
	meta, _ := json.Marshal(jobargs.ProvisionerMetadata{Tags: tags})
	// One attempt: a build that dies midway is not blindly re-applied; the user retries or deletes.
	res, err := h.River.InsertTx(ctx, tx.Raw, jobargs.WorkspaceBuild{BuildID: b.ID.String()}, &river.InsertOpts{Queue: queue, MaxAttempts: 1, Metadata: meta})
	if err != nil {
		return b, err
	}
	if err := tx.SetWorkspaceBuildJob(ctx, dbsqlc.SetWorkspaceBuildJobParams{ID: b.ID, JobID: &res.Job.ID}); err != nil {
		return b, err
	}
	b.JobID = &res.Job.ID
	return b, pgnotify.Notify(ctx, tx.Raw, provisioner.NotifyChannel, queue)
}

// resolve checks parameter values against a version's definitions.
func resolve(v dbsqlc.TemplateVersion, previous, given []parameter.Value, creating bool, evaluated []coderprovider.EvalParameter) ([]parameter.Value, error) {
	var params []provisioner.Parameter
	_ = json.Unmarshal(v.Parameters, &params) // written by us
	params = withEvaluated(params, evaluated)
	defs := make([]parameter.Definition, len(params))
	for i, p := range params {
		d := parameter.Definition{Name: p.Name, Type: p.Type, Required: p.Required, Mutable: p.Mutable, Ephemeral: p.Ephemeral,
			MultiSelect: p.Type == "list(string)" && p.FormType == "multi-select"}
		if p.Default != "" || !p.Required {
			def := p.Default
			d.Default = &def
		}
		for _, o := range p.Options {
			d.Options = append(d.Options, o.Value)
		}
		if val := p.Validation; val != nil {
			d.Min, d.Max, d.Monotonic, d.Regex, d.Error = val.Min, val.Max, val.Monotonic, val.Regex, val.Error
		}
		defs[i] = d
	}
	values, err := parameter.Resolve(defs, previous, given, creating)
	var perr *parameter.Error
	if errors.As(err, &perr) {
		value := ""
		for _, g := range given {
			if g.Name == perr.Name {
				value = g.Value
			}
		}
		return nil, huma.Error400BadRequest("Parameter "+perr.Name+": "+perr.Message+".",
			&huma.ErrorDetail{Location: "body.parameters." + perr.Name, Message: perr.Rule, Value: value})
	}
	if values == nil {
		values = []parameter.Value{}
	}
	return values, err
}

type listBuildsInput struct {
	WorkspacePath
	Limit  int `query:"limit" minimum:"1" maximum:"200" default:"25"`
	Offset int `query:"offset" minimum:"0"`
}

// BuildsOutput lists builds.
type BuildsOutput struct {
	Body struct {
		Builds []Build `json:"builds"`
	}
}

func (h handlers) listBuilds(ctx context.Context, in *listBuildsInput) (*BuildsOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	if _, err := h.find(ctx, h.DB.Queries, in.Workspace); err != nil {
		return nil, err
	}
	rows, err := h.DB.ListWorkspaceBuilds(ctx, dbsqlc.ListWorkspaceBuildsParams{WorkspaceID: in.Workspace, Lim: int32(in.Limit), Off: int32(in.Offset)}) //nolint:gosec // bounded
	if err != nil {
		return nil, err
	}
	out := &BuildsOutput{}
	out.Body.Builds = make([]Build, len(rows))
	for i, r := range rows {
		out.Body.Builds[i] = buildSummary(r)
	}
	return out, h.withStages(ctx, out.Body.Builds)
}

// BuildPath names a build.
type BuildPath struct {
	Build uuid.UUID `path:"build" doc:"The build's ID."`
}

// findBuild loads a build of a workspace the caller may see, or answers 404.
func (h handlers) findBuild(ctx context.Context, q *dbsqlc.Queries, id uuid.UUID) (dbsqlc.WorkspaceBuild, dbsqlc.WorkspaceOverview, error) {
	b, err := q.GetWorkspaceBuild(ctx, id)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return b, dbsqlc.WorkspaceOverview{}, huma.Error404NotFound("No workspace build " + id.String() + ".")
	}
	if err != nil {
		return b, dbsqlc.WorkspaceOverview{}, err
	}
	w, err := h.find(ctx, q, b.WorkspaceID)
	if err != nil {
		return b, w, huma.Error404NotFound("No workspace build " + id.String() + ".")
	}
	return b, w, nil
}

func (h handlers) getBuild(ctx context.Context, in *BuildPath) (*BuildOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	b, _, err := h.findBuild(ctx, h.DB.Queries, in.Build)
	if err != nil {
		return nil, err
	}
	out, err := h.toBuild(ctx, b)
	if err != nil {
		return nil, err
	}
	one := []Build{out}
	if err := h.withStages(ctx, one); err != nil {
		return nil, err
	}
	return &BuildOutput{Body: one[0]}, nil
}

func (h handlers) cancelBuild(ctx context.Context, in *BuildPath) (*BuildOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	var b dbsqlc.WorkspaceBuild
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		var w dbsqlc.WorkspaceOverview
		var err error
		if b, w, err = h.findBuild(ctx, tx.Queries, in.Build); err != nil {
			return err
		}
		if err := allowed(ctx, tx.Queries, w.ID, w.OwnerID, authz.UseWorkspace); err != nil {
			return err
		}
		if b.JobID == nil || (b.Status != "pending" && b.Status != "running") {
			return huma.Error409Conflict("The build is " + b.Status + "; only pending and running builds can be canceled.")
		}
		job, err := h.River.JobCancelTx(ctx, tx.Raw, *b.JobID)
		if errors.Is(err, rivertype.ErrNotFound) {
			return huma.Error409Conflict("The build's job has ended.")
		}
		if err != nil {
			return err
		}
		if err := provisioning.MarkCanceled(ctx, tx, *b.JobID, job.State); err != nil {
			return err
		}
		if b, err = tx.GetWorkspaceBuild(ctx, b.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace_build", ID: b.ID.String(), Name: w.Name}, nil)
	})
	if err != nil {
		return nil, err
	}
	return &BuildOutput{Body: buildSummary(b)}, nil
}
