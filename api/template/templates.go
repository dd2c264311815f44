package template

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/acl"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// NamePattern is what template and workspace names look like: letters, digits and inner hyphens.
const NamePattern = `^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`

func registerTemplates(api huma.API, h handlers) {
	errs := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	op := func(id, method, path, summary, desc string, extra ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{"Templates"}, Security: h.Security, Errors: append(errs, extra...)}
	}
	create := op("create-template", http.MethodPost, "/api/v2/templates", "Create a template",
		"From a template version whose import succeeded; the version becomes the template's first and active one.", http.StatusConflict)
	create.DefaultStatus = http.StatusCreated
	huma.Register(api, create, h.createTemplate)
	huma.Register(api, op("list-templates", http.MethodGet, "/api/v2/templates", "List templates",
		"The templates the caller may use (template admins, owners and auditors: every one), by name, with how many workspaces use each."), h.listTemplates)
	huma.Register(api, op("get-template", http.MethodGet, "/api/v2/templates/{template}", "Get a template", "By ID or name."), h.getTemplate)
	huma.Register(api, op("update-template", http.MethodPatch, "/api/v2/templates/{template}", "Update a template",
		"Only the fields sent change.", http.StatusConflict), h.updateTemplate)
	huma.Register(api, op("delete-template", http.MethodDelete, "/api/v2/templates/{template}", "Delete a template",
		"Refused (409) while workspaces use it.", http.StatusConflict), h.deleteTemplate)
	huma.Register(api, op("list-template-versions", http.MethodGet, "/api/v2/templates/{template}/versions", "List a template's versions",
		"Newest first; archived ones only when asked."), h.listVersions)
	huma.Register(api, op("set-template-active-version", http.MethodPut, "/api/v2/templates/{template}/active-version",
		"Promote a version", "New workspaces get the active version; existing ones move to it when updated.", http.StatusConflict), h.promote)
}

// Template is a template: a name for versions, one of them active, and its schedule policy.
type Template struct {
	ID                 uuid.UUID `json:"id"`
	Name               string    `json:"name"`
	DisplayName        string    `json:"display_name"`
	Description        string    `json:"description"`
	Icon               string    `json:"icon"`
	ActiveVersionID    uuid.UUID `json:"active_version_id"`
	DefaultTTLSeconds  int64     `json:"default_ttl_seconds" doc:"How long a started workspace runs before it stops; 0 never stops it."`
	MaxTTLSeconds      int64     `json:"max_ttl_seconds" doc:"The longest a workspace's owner may set; 0 is no limit."`
	AllowUserAutostart bool      `json:"allow_user_autostart"`
	AllowUserAutostop  bool      `json:"allow_user_autostop"`
	AutostartDays      []string  `json:"autostart_days" doc:"Days autostart may start workspaces: mon ... sun."`
	Policies
	WorkspaceCount int64     `json:"workspace_count"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

func toTemplate(t dbsqlc.Template, workspaces int64) Template {
	return Template{ID: t.ID, Name: t.Name, DisplayName: t.DisplayName, Description: t.Description, Icon: t.Icon,
		ActiveVersionID: t.ActiveVersionID, DefaultTTLSeconds: t.DefaultTtlSeconds, MaxTTLSeconds: t.MaxTtlSeconds,
		AllowUserAutostart: t.AllowUserAutostart, AllowUserAutostop: t.AllowUserAutostop, AutostartDays: t.AutostartDays,
		Policies: Policies{ActivityBumpSeconds: t.ActivityBumpSeconds, AutostopRequirementDays: t.AutostopRequirementDays,
			DormancyThresholdSeconds: t.DormancyThresholdSeconds, DormancyDeleteSeconds: t.DormancyDeleteSeconds, FailureTTLSeconds: t.FailureTtlSeconds},
		WorkspaceCount: workspaces, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// Policies are what a template decides about its workspaces' lifecycle beyond their TTLs; 0 and an
// empty list turn a policy off.
type Policies struct {
	ActivityBumpSeconds      int64    `json:"activity_bump_seconds" doc:"How far activity (SSH, terminal, port forwarding, apps) pushes a running workspace's deadline from now; 0 uses the workspace's TTL."`
	AutostopRequirementDays  []string `json:"autostop_requirement_days" doc:"Days on which running workspaces must stop at their owner's quiet hours (default midnight UTC), whatever their deadline and activity."`
	DormancyThresholdSeconds int64    `json:"dormancy_threshold_seconds" doc:"A workspace unused this long becomes dormant: it is stopped and cannot start until made active again."`
	DormancyDeleteSeconds    int64    `json:"dormancy_delete_seconds" doc:"A workspace dormant this long is deleted."`
	FailureTTLSeconds        int64    `json:"failure_ttl_seconds" doc:"A workspace whose start failed this long ago is stopped."`
}

// TemplateOutput is one template.
type TemplateOutput struct {
	Body Template
}

// TemplateFields are a template's settable fields; absent ones keep their value (or default).
type TemplateFields struct {
	DisplayName              *string  `json:"display_name,omitempty" maxLength:"64"`
	Description              *string  `json:"description,omitempty" maxLength:"2048"`
	Icon                     *string  `json:"icon,omitempty" maxLength:"256"`
	DefaultTTLSeconds        *int64   `json:"default_ttl_seconds,omitempty" minimum:"0" maximum:"31536000"`
	MaxTTLSeconds            *int64   `json:"max_ttl_seconds,omitempty" minimum:"0" maximum:"31536000"`
	AllowUserAutostart       *bool    `json:"allow_user_autostart,omitempty"`
	AllowUserAutostop        *bool    `json:"allow_user_autostop,omitempty"`
	AutostartDays            []string `json:"autostart_days,omitempty" maxItems:"7" uniqueItems:"true" enum:"mon,tue,wed,thu,fri,sat,sun"`
	ActivityBumpSeconds      *int64   `json:"activity_bump_seconds,omitempty" minimum:"0" maximum:"31536000"`
	AutostopRequirementDays  []string `json:"autostop_requirement_days,omitempty" maxItems:"7" uniqueItems:"true" enum:"mon,tue,wed,thu,fri,sat,sun" doc:"An empty list turns the required stop off."`
	DormancyThresholdSeconds *int64   `json:"dormancy_threshold_seconds,omitempty" minimum:"0" maximum:"315360000"`
	DormancyDeleteSeconds    *int64   `json:"dormancy_delete_seconds,omitempty" minimum:"0" maximum:"315360000"`
	FailureTTLSeconds        *int64   `json:"failure_ttl_seconds,omitempty" minimum:"0" maximum:"31536000"`
}

// apply sets the sent fields on t, and checks they agree with each other.
func (f TemplateFields) apply(t *dbsqlc.Template) error {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&t.DisplayName, f.DisplayName)
	set(&t.Description, f.Description)
	set(&t.Icon, f.Icon)
	for _, p := range []struct{ dst, v *int64 }{{&t.DefaultTtlSeconds, f.DefaultTTLSeconds}, {&t.MaxTtlSeconds, f.MaxTTLSeconds}} {
		if p.v != nil {
			*p.dst = *p.v
		}
	}
	if f.AllowUserAutostart != nil {
		t.AllowUserAutostart = *f.AllowUserAutostart
	}
	if f.AllowUserAutostop != nil {
		t.AllowUserAutostop = *f.AllowUserAutostop
	}
	if f.AutostartDays != nil {
		t.AutostartDays = f.AutostartDays
	}
	for _, p := range []struct{ dst, v *int64 }{{&t.ActivityBumpSeconds, f.ActivityBumpSeconds},
		{&t.DormancyThresholdSeconds, f.DormancyThresholdSeconds}, {&t.DormancyDeleteSeconds, f.DormancyDeleteSeconds},
		{&t.FailureTtlSeconds, f.FailureTTLSeconds}} {
		if p.v != nil {
			*p.dst = *p.v
		}
	}
	if f.AutostopRequirementDays != nil {
		t.AutostopRequirementDays = f.AutostopRequirementDays
	}
	if t.MaxTtlSeconds > 0 && t.DefaultTtlSeconds > t.MaxTtlSeconds {
		return huma.Error422UnprocessableEntity("The default TTL cannot be longer than the maximum TTL.",
			&huma.ErrorDetail{Location: "body.default_ttl_seconds", Message: "longer than max_ttl_seconds", Value: t.DefaultTtlSeconds})
	}
	return nil
}

// NewTemplate is a template as it is made: autostart and autostop allowed every day, no other policy.
func NewTemplate(name string, version uuid.UUID) dbsqlc.Template {
	return dbsqlc.Template{Name: name, DisplayName: "", ActiveVersionID: version, AllowUserAutostart: true, AllowUserAutostop: true,
		AutostartDays: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, AutostopRequirementDays: []string{}}
}

// insert stores a new template. Unless private, everyone may use it (a grant to the Everyone group,
// which its admins can take away).
func insert(ctx context.Context, tx db.Tx, t dbsqlc.Template, private bool) (dbsqlc.Template, error) {
	t, err := tx.InsertTemplate(ctx, dbsqlc.InsertTemplateParams{Name: t.Name, DisplayName: t.DisplayName, Description: t.Description,
		Icon: t.Icon, ActiveVersionID: t.ActiveVersionID, DefaultTtlSeconds: t.DefaultTtlSeconds, MaxTtlSeconds: t.MaxTtlSeconds,
		AllowUserAutostart: t.AllowUserAutostart, AllowUserAutostop: t.AllowUserAutostop, AutostartDays: t.AutostartDays, CreatedBy: t.CreatedBy,
		ActivityBumpSeconds: t.ActivityBumpSeconds, AutostopRequirementDays: t.AutostopRequirementDays,
		DormancyThresholdSeconds: t.DormancyThresholdSeconds, DormancyDeleteSeconds: t.DormancyDeleteSeconds, FailureTtlSeconds: t.FailureTtlSeconds})
	if err != nil || private {
		return t, err
	}
	everyone := authz.Everyone
	return t, tx.InsertTemplateGrant(ctx, dbsqlc.InsertTemplateGrantParams{TemplateID: t.ID, GroupID: &everyone, Role: string(authz.AccessUse)})
}

type createTemplateInput struct {
	Body struct {
		Name      string    `json:"name" minLength:"1" maxLength:"32" pattern:"^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$"`
		VersionID uuid.UUID `json:"version_id" doc:"A version whose import succeeded and that belongs to no template yet."`
		// The name Coder's API gives this choice.
		DisableEveryoneGroupAccess bool `json:"disable_everyone_group_access,omitempty" doc:"Start with an empty access list: only template admins see the template until it is granted to users or groups. By default the Everyone group may use it."`
		TemplateFields
	}
}

func (h handlers) createTemplate(ctx context.Context, in *createTemplateInput) (*TemplateOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageTemplates); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	t := NewTemplate(in.Body.Name, in.Body.VersionID)
	if err := in.Body.apply(&t); err != nil {
		return nil, err
	}
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		v, err := tx.GetTemplateVersion(ctx, in.Body.VersionID)
		if err != nil {
			if errors.Is(db.Translate(err), db.ErrNotFound) {
				return huma.Error404NotFound("No template version with this ID.", &huma.ErrorDetail{Location: "body.version_id", Message: "not found", Value: in.Body.VersionID})
			}
			return err
		}
		if err := h.usable(v, "body.version_id"); err != nil {
			return err
		}
		if v.TemplateID != nil {
			return huma.Error409Conflict("The version belongs to another template; push a new version instead.",
				&huma.ErrorDetail{Location: "body.version_id", Message: "belongs to a template", Value: in.Body.VersionID})
		}
		t.CreatedBy = &a.UserID
		if t, err = insert(ctx, tx, t, in.Body.DisableEveryoneGroupAccess); err != nil {
			if db.IsUniqueViolation(err, "templates_name") {
				return huma.Error409Conflict("A template named "+in.Body.Name+" exists.", &huma.ErrorDetail{Location: "body.name", Message: "taken", Value: in.Body.Name})
			}
			return err
		}
		if err := tx.AttachTemplateVersion(ctx, dbsqlc.AttachTemplateVersionParams{ID: v.ID, TemplateID: &t.ID}); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "template", ID: t.ID.String(), Name: t.Name}, audit.Diff(nil, toTemplate(t, 0)))
	})
	if err != nil {
		return nil, err
	}
	return &TemplateOutput{Body: toTemplate(t, 0)}, nil
}

// usable refuses a version that workspaces cannot be built from, or whose presets ask for more
// prebuilt workspaces than the deployment allows.
func (h handlers) usable(v dbsqlc.TemplateVersion, field string) error {
	var presets []provisioner.Preset
	_ = json.Unmarshal(v.Presets, &presets) // written by us
	for _, p := range presets {
		if p.Prebuilds != nil && h.MaxPrebuilds > 0 && p.Prebuilds.Instances > int64(h.MaxPrebuilds) {
			return huma.Error400BadRequest(fmt.Sprintf("Preset %s asks for %d prebuilt workspaces; this deployment allows at most %d a preset "+
				"(hearth server --prebuilds-max-instances): lower its prebuilds.instances and push again.", p.Name, p.Prebuilds.Instances, h.MaxPrebuilds),
				&huma.ErrorDetail{Location: field, Message: "too many prebuilds in preset " + p.Name, Value: p.Prebuilds.Instances})
		}
	}
	switch {
	case v.Status != "succeeded":
		return huma.Error409Conflict("The version's import has not succeeded (it is "+v.Status+"); wait for it or fix the template.",
			&huma.ErrorDetail{Location: field, Message: "import " + v.Status, Value: v.ID})
	case v.Archived:
		return huma.Error409Conflict("The version is archived.", &huma.ErrorDetail{Location: field, Message: "archived", Value: v.ID})
	}
	return nil
}

// TemplatePath names a template by ID or name.
type TemplatePath struct {
	Template string `path:"template" minLength:"1" maxLength:"36" doc:"A template ID or name."`
}

// Lookup finds the template a reference names (an ID or a name) and checks that the caller may do
// action to it (authz.UseTemplate or authz.AdminTemplate): 404 for those who may not use it, so its
// existence does not leak, and 403 for those who may use it but not change it.
func Lookup(ctx context.Context, q *dbsqlc.Queries, ref, field string, action authz.Action) (dbsqlc.Template, error) {
	var (
		t   dbsqlc.Template
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		t, err = q.GetTemplate(ctx, id)
	} else {
		t, err = q.GetTemplateByName(ctx, ref)
	}
	missing := huma.Error404NotFound("No template "+ref+".", &huma.ErrorDetail{Location: field, Message: "not found", Value: ref})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return t, missing
	}
	if err != nil {
		return t, err
	}
	return t, Allowed(ctx, q, t, action, missing)
}

// Allowed checks that the caller may do action to t, answering missing when they may not even use it.
func Allowed(ctx context.Context, q *dbsqlc.Queries, t dbsqlc.Template, action authz.Action, missing error) error {
	grants, err := acl.Template(ctx, q, t.ID)
	if err != nil {
		return err
	}
	if err := authz.AuthorizeTemplate(ctx, authz.UseTemplate, grants); err != nil {
		if errors.Is(err, authz.ErrForbidden) {
			return missing
		}
		return err
	}
	if action == authz.AdminTemplate && authz.AuthorizeTemplate(ctx, authz.AdminTemplate, grants) != nil {
		return huma.Error403Forbidden("You may use the template " + t.Name + " but not change it: ask one of its admins or a template admin.")
	}
	return nil
}

// TemplatesOutput lists templates.
type TemplatesOutput struct {
	Body struct {
		Templates []Template `json:"templates"`
	}
}

func (h handlers) listTemplates(ctx context.Context, _ *struct{}) (*TemplatesOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	p := dbsqlc.ListTemplatesParams{UsableGroups: []uuid.UUID{}}
	if !authz.SeesAllTemplates(ctx) {
		a, _ := authz.ActorFrom(ctx)
		p.UsableBy, p.UsableGroups = &a.UserID, a.VisibleGroups()
	}
	rows, err := h.DB.ListTemplates(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &TemplatesOutput{}
	out.Body.Templates = make([]Template, len(rows))
	for i, r := range rows {
		out.Body.Templates[i] = toTemplate(r.Template, r.WorkspaceCount)
	}
	return out, nil
}

func (h handlers) getTemplate(ctx context.Context, in *TemplatePath) (*TemplateOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	t, err := Lookup(ctx, h.DB.Queries, in.Template, "path.template", authz.UseTemplate)
	if err != nil {
		return nil, err
	}
	return h.output(ctx, t)
}

// output answers a template with its count of workspaces.
func (h handlers) output(ctx context.Context, t dbsqlc.Template) (*TemplateOutput, error) {
	n, err := h.DB.CountTemplateWorkspaces(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return &TemplateOutput{Body: toTemplate(t, n)}, nil
}

type updateTemplateInput struct {
	TemplatePath
	Body struct {
		Name *string `json:"name,omitempty" minLength:"1" maxLength:"32" pattern:"^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$"`
		TemplateFields
	}
}

// change runs fn on the template a path names, locked, and stores what fn left in it: for those who
// may administer the template.
func (h handlers) change(ctx context.Context, ref string, fn func(tx db.Tx, t *dbsqlc.Template) error) (dbsqlc.Template, error) {
	var t dbsqlc.Template
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		found, err := Lookup(ctx, tx.Queries, ref, "path.template", authz.AdminTemplate)
		if err != nil {
			return err
		}
		if t, err = tx.LockTemplate(ctx, found.ID); err != nil {
			return db.Translate(err)
		}
		before := toTemplate(t, 0)
		if err := fn(tx, &t); err != nil {
			return err
		}
		t, err = tx.UpdateTemplate(ctx, dbsqlc.UpdateTemplateParams{ID: t.ID, Name: t.Name, DisplayName: t.DisplayName, Description: t.Description,
			Icon: t.Icon, DefaultTtlSeconds: t.DefaultTtlSeconds, MaxTtlSeconds: t.MaxTtlSeconds, AllowUserAutostart: t.AllowUserAutostart,
			AllowUserAutostop: t.AllowUserAutostop, AutostartDays: t.AutostartDays, ActiveVersionID: t.ActiveVersionID,
			ActivityBumpSeconds: t.ActivityBumpSeconds, AutostopRequirementDays: t.AutostopRequirementDays,
			DormancyThresholdSeconds: t.DormancyThresholdSeconds, DormancyDeleteSeconds: t.DormancyDeleteSeconds, FailureTtlSeconds: t.FailureTtlSeconds})
		if db.IsUniqueViolation(err, "templates_name") {
			return huma.Error409Conflict("A template named "+t.Name+" exists.", &huma.ErrorDetail{Location: "body.name", Message: "taken", Value: t.Name})
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "template", ID: t.ID.String(), Name: t.Name}, audit.Diff(before, toTemplate(t, 0)))
	})
	return t, err
}

func (h handlers) updateTemplate(ctx context.Context, in *updateTemplateInput) (*TemplateOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	t, err := h.change(ctx, in.Template, func(_ db.Tx, t *dbsqlc.Template) error {
		if in.Body.Name != nil {
			t.Name = *in.Body.Name
		}
		return in.Body.apply(t)
	})
	if err != nil {
		return nil, err
	}
	return h.output(ctx, t)
}

type promoteInput struct {
	TemplatePath
	Body struct {
		VersionID uuid.UUID `json:"version_id" doc:"One of the template's versions whose import succeeded."`
	}
}

func (h handlers) promote(ctx context.Context, in *promoteInput) (*TemplateOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	t, err := h.change(ctx, in.Template, func(tx db.Tx, t *dbsqlc.Template) error {
		v, err := tx.GetTemplateVersion(ctx, in.Body.VersionID)
		if errors.Is(db.Translate(err), db.ErrNotFound) || (err == nil && (v.TemplateID == nil || *v.TemplateID != t.ID)) {
			return huma.Error404NotFound("The template has no version with this ID.",
				&huma.ErrorDetail{Location: "body.version_id", Message: "not a version of the template", Value: in.Body.VersionID})
		}
		if err != nil {
			return err
		}
		if err := h.usable(v, "body.version_id"); err != nil {
			return err
		}
		t.ActiveVersionID = v.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return h.output(ctx, t)
}

func (h handlers) deleteTemplate(ctx context.Context, in *TemplatePath) (*struct{}, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		found, err := Lookup(ctx, tx.Queries, in.Template, "path.template", authz.AdminTemplate)
		if err != nil {
			return err
		}
		t, err := tx.LockTemplate(ctx, found.ID)
		if err != nil {
			return db.Translate(err)
		}
		// Workspaces are created under a lock of their template too, so none appears meanwhile.
		n, err := tx.CountTemplateWorkspaces(ctx, t.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			return huma.Error409Conflict("Workspaces use the template; delete them first.",
				&huma.ErrorDetail{Location: "path.template", Message: "in use by workspaces", Value: n})
		}
		if err := tx.DeleteTemplate(ctx, t.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "template", ID: t.ID.String(), Name: t.Name}, audit.Diff(toTemplate(t, 0), nil))
	})
	return nil, err
}

type listVersionsInput struct {
	TemplatePath
	IncludeArchived bool `query:"include_archived" doc:"List archived versions too."`
}

// VersionsOutput lists versions.
type VersionsOutput struct {
	Body struct {
		Versions []Version `json:"versions"`
	}
}

func (h handlers) listVersions(ctx context.Context, in *listVersionsInput) (*VersionsOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	t, err := Lookup(ctx, h.DB.Queries, in.Template, "path.template", authz.UseTemplate)
	if err != nil {
		return nil, err
	}
	rows, err := h.DB.ListTemplateVersions(ctx, dbsqlc.ListTemplateVersionsParams{TemplateID: &t.ID, IncludeArchived: in.IncludeArchived})
	if err != nil {
		return nil, err
	}
	out := &VersionsOutput{}
	out.Body.Versions = make([]Version, len(rows))
	for i, r := range rows {
		out.Body.Versions[i] = h.toVersion(r)
	}
	return out, nil
}
