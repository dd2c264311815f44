// Package template serves template sources and versions: archives are uploaded as files
// (content-addressed), and creating a template version enqueues its import, which a provisioner
// worker runs (terraform init and plan) to find the version's parameters, resources, agents and apps.
package template

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/internal/archive"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coderprovider"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/seal"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// MaxFileSize bounds an uploaded archive.
const MaxFileSize = 50 << 20

// Deps are what the resource needs.
type Deps struct {
	DB       *db.DB
	River    *river.Client[pgx.Tx]
	Security []map[string][]string
	// Boxes seal template variable values.
	Boxes seal.Boxes
	// MaxPrebuilds caps a preset's prebuilds.instances in a version made active (0: no cap).
	MaxPrebuilds int
}

type handlers struct{ Deps }

// Register adds the operations.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	registerDynamic(api, h)
	huma.Register(api, huma.Operation{
		OperationID:   "upload-file",
		Method:        http.MethodPost,
		Path:          "/api/v2/files",
		Summary:       "Upload a template archive",
		Description:   "A tar (application/x-tar) or zip (application/zip) archive of a template's Terraform files, at most 50 MiB. Stored once per content: the ID is its SHA-256.",
		Tags:          []string{"Templates"},
		Security:      d.Security,
		DefaultStatus: http.StatusCreated,
		MaxBodyBytes:  MaxFileSize,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest, http.StatusRequestEntityTooLarge},
	}, h.upload)
	huma.Register(api, huma.Operation{
		OperationID: "download-file",
		Method:      http.MethodGet,
		Path:        "/api/v2/files/{id}",
		Summary:     "Download a template archive",
		Description: "The archive as uploaded, with its content type: what hearth templates pull fetches for a version's file_id.",
		Tags:        []string{"Templates"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
		Responses: map[string]*huma.Response{"200": {Description: "The archive.", Content: map[string]*huma.MediaType{
			"application/x-tar": {Schema: &huma.Schema{Type: "string", Format: "binary"}},
			"application/zip":   {Schema: &huma.Schema{Type: "string", Format: "binary"}},
		}}},
	}, h.download)
	huma.Register(api, huma.Operation{
		OperationID:   "create-template-version",
		Method:        http.MethodPost,
		Path:          "/api/v2/template-versions",
		Summary:       "Create a template version",
		Description:   "From an uploaded file. Enqueues its import on a provisioner worker whose tags match; poll get-template-version for the result.",
		Tags:          []string{"Templates"},
		Security:      d.Security,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, h.createVersion)
	huma.Register(api, huma.Operation{
		OperationID: "get-template-version",
		Method:      http.MethodGet,
		Path:        "/api/v2/template-versions/{id}",
		Summary:     "Get a template version",
		Description: "With its import's status and, once it succeeded, the parameters, variables, resources, agents and apps found.",
		Tags:        []string{"Templates"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.getVersion)
	huma.Register(api, huma.Operation{
		OperationID: "get-template-version-logs",
		Method:      http.MethodGet,
		Path:        "/api/v2/template-versions/{id}/logs",
		Summary:     "Get a template version's import logs",
		Description: "Terraform's output, line by line with stage and level. Page with after: the last line ID you have.",
		Tags:        []string{"Templates"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, h.logs)
	huma.Register(api, huma.Operation{
		OperationID: "archive-template-version",
		Method:      http.MethodPost,
		Path:        "/api/v2/template-versions/{id}/archive",
		Summary:     "Archive a template version",
		Description: "Archived versions are hidden from lists and cannot be chosen for new builds; workspaces on them keep running. The active version cannot be archived.",
		Tags:        []string{"Templates"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict},
	}, h.archive(true))
	huma.Register(api, huma.Operation{
		OperationID: "unarchive-template-version",
		Method:      http.MethodPost,
		Path:        "/api/v2/template-versions/{id}/unarchive",
		Summary:     "Unarchive a template version",
		Tags:        []string{"Templates"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}, h.archive(false))
	registerTemplates(api, h)
	registerAccess(api, h)
}

type uploadInput struct {
	ContentType string `header:"Content-Type" enum:"application/x-tar,application/zip"`
	RawBody     []byte
}

// FileOutput names a stored file.
type FileOutput struct {
	Body struct {
		ID string `json:"id" doc:"The SHA-256 of the content, hex."`
	}
}

func (h handlers) upload(ctx context.Context, in *uploadInput) (*FileOutput, error) {
	// Template admins, and admins of one template (who push its versions).
	if err := authz.Authorize(ctx, authz.ManageTemplates); err != nil {
		a, aerr := authz.ActorFrom(ctx)
		if aerr != nil || authz.Authorize(ctx, authz.ReadTemplates) != nil {
			return nil, err
		}
		n, qerr := h.DB.CountAdministeredTemplates(ctx, dbsqlc.CountAdministeredTemplatesParams{UserID: &a.UserID, Groups: a.VisibleGroups()})
		if qerr != nil {
			return nil, qerr
		}
		if n == 0 {
			return nil, err
		}
	}
	if err := archive.Check(in.RawBody, in.ContentType); err != nil {
		return nil, huma.Error400BadRequest("The upload is not a template archive Hearth can use: "+strings.TrimPrefix(err.Error(), "template archive: ")+".",
			&huma.ErrorDetail{Location: "body", Message: err.Error()})
	}
	sum := sha256.Sum256(in.RawBody)
	a, _ := authz.ActorFrom(ctx)
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		if err := tx.InsertFile(ctx, dbsqlc.InsertFileParams{Hash: sum[:], ContentType: in.ContentType, Data: in.RawBody, CreatedBy: &a.UserID}); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "file", ID: hex.EncodeToString(sum[:])}, nil)
	})
	if err != nil {
		return nil, err
	}
	out := &FileOutput{}
	out.Body.ID = hex.EncodeToString(sum[:])
	return out, nil
}

type downloadInput struct {
	ID string `path:"id" pattern:"^[0-9a-f]{64}$" doc:"The file's ID (its SHA-256, hex)."`
}

type downloadOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

func (h handlers) download(ctx context.Context, in *downloadInput) (*downloadOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageTemplates); err != nil {
		return nil, err
	}
	hash, _ := hex.DecodeString(in.ID) // the pattern made sure
	f, err := h.DB.GetFile(ctx, hash)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, huma.Error404NotFound("No file " + in.ID + ".")
	}
	if err != nil {
		return nil, err
	}
	ext := ".tar"
	if f.ContentType == "application/zip" {
		ext = ".zip"
	}
	return &downloadOutput{ContentType: f.ContentType, ContentDisposition: `attachment; filename="` + in.ID[:12] + ext + `"`, Body: f.Data}, nil
}

// checkArchive reads an archive's index, so a corrupt upload is refused now rather than by a worker.
// What is inside (paths, sizes) is checked again where it is extracted.
type createVersionInput struct {
	Body struct {
		FileID     string            `json:"file_id" pattern:"^[0-9a-f]{64}$" doc:"From upload-file."`
		Tags       map[string]string `json:"tags,omitempty" maxProperties:"6" doc:"Only workers with all these tags import it (and build from it)."`
		TemplateID string            `json:"template_id,omitempty" maxLength:"36" doc:"The template (ID or name) the version is pushed to; leave out for a template's first version, then create-template from it."`
		Name       string            `json:"name,omitempty" maxLength:"64" doc:"Defaults to v and the template's count of versions."`
		Message    string            `json:"message,omitempty" maxLength:"1024" doc:"What changed."`
		Variables  []VariableValue   `json:"variables,omitempty" maxItems:"100" doc:"Values of the template's Terraform variables. Stored sealed; sensitive ones are never shown again."`
		Strict     bool              `json:"strict,omitempty" doc:"Refuse the version when its source uses a construct or attribute of the coder provider that Hearth does not honour (see warnings)."`
	}
}

// VariableValue is a Terraform variable's value. Sensitive variables' values are never returned.
type VariableValue struct {
	Name      string `json:"name" minLength:"1" maxLength:"128"`
	Value     string `json:"value" maxLength:"65536"`
	Sensitive bool   `json:"sensitive,omitempty" readOnly:"true" doc:"Set in responses for a sensitive variable, whose value is then empty."`
}

// Version is a template version.
type Version struct {
	ID     uuid.UUID         `json:"id"`
	FileID string            `json:"file_id"`
	Tags   map[string]string `json:"tags"`
	JobID  *int64            `json:"job_id,omitempty"`
	Status string            `json:"status" enum:"pending,running,succeeded,failed,canceled" doc:"Of the import."`
	Error  string            `json:"error,omitempty"`
	// Diagnostics are Terraform's, of a failed import.
	Diagnostics []provisioner.Diagnostic `json:"diagnostics"`
	// Warnings name what the source uses of the coder provider that Hearth does not honour.
	Warnings      []coderprovider.Warning        `json:"warnings"`
	WorkspaceTags []coderprovider.WorkspaceTag   `json:"workspace_tags" doc:"From data \"coder_workspace_tags\": with the version's tags, only workers with all of them build its workspaces."`
	Parameters    []provisioner.Parameter        `json:"parameters"`
	Variables     []provisioner.TemplateVariable `json:"variables"`
	Presets       []provisioner.Preset           `json:"presets" doc:"The template's coder_workspace_presets: named parameter values to create a workspace with."`
	ExternalAuth  []provisioner.ExternalAuth     `json:"external_auth" doc:"The external auth providers its data \"coder_external_auth\" blocks name: a required one must be linked by a workspace's owner before it starts."`
	Resources     []provisioner.Resource         `json:"resources"`
	// VariableValues are the values given, sensitive ones blanked.
	VariableValues []VariableValue `json:"variable_values"`
	TemplateID     *uuid.UUID      `json:"template_id,omitempty"`
	Name           string          `json:"name"`
	Message        string          `json:"message"`
	Archived       bool            `json:"archived"`
	CreatedAt      time.Time       `json:"created_at"`
}

// VersionOutput is one version.
type VersionOutput struct {
	Body Version
}

func (h handlers) toVersion(v dbsqlc.TemplateVersion) Version {
	out := Version{ID: v.ID, FileID: hex.EncodeToString(v.FileHash), Tags: map[string]string{}, JobID: v.JobID, Status: v.Status,
		Error: v.Error, CreatedAt: v.CreatedAt, TemplateID: v.TemplateID, Name: v.Name, Message: v.Message, Archived: v.Archived,
		VariableValues: []VariableValue{}, Diagnostics: []provisioner.Diagnostic{}, Warnings: []coderprovider.Warning{},
		WorkspaceTags: []coderprovider.WorkspaceTag{}}
	// All written by us, as JSON of these types.
	_ = json.Unmarshal(v.Warnings, &out.Warnings)
	_ = json.Unmarshal(v.WorkspaceTags, &out.WorkspaceTags)
	_ = json.Unmarshal(v.Diagnostics, &out.Diagnostics)
	_ = json.Unmarshal(v.Tags, &out.Tags)
	_ = json.Unmarshal(v.Parameters, &out.Parameters)
	_ = json.Unmarshal(v.Variables, &out.Variables)
	_ = json.Unmarshal(v.Resources, &out.Resources)
	out.Presets = []provisioner.Preset{}
	_ = json.Unmarshal(v.Presets, &out.Presets)
	out.ExternalAuth = []provisioner.ExternalAuth{}
	_ = json.Unmarshal(v.ExternalAuth, &out.ExternalAuth)
	if len(v.VariableValues) > 0 && h.Boxes.Variables != nil {
		if plain, err := h.Boxes.Variables.Open(v.VariableValues, v.ID.String()); err == nil {
			_ = json.Unmarshal(plain, &out.VariableValues)
		}
	}
	for i, val := range out.VariableValues {
		// Until the import says which variables are sensitive, none is shown.
		sensitive := v.Status != "succeeded"
		for _, d := range out.Variables {
			if d.Name == val.Name && d.Sensitive {
				sensitive = true
			}
		}
		if sensitive {
			out.VariableValues[i] = VariableValue{Name: val.Name, Sensitive: true}
		}
	}
	return out
}

func (h handlers) createVersion(ctx context.Context, in *createVersionInput) (*VersionOutput, error) {
	// A version for a template is for its admins to push; one for a new template, template admins'.
	action := authz.ManageTemplates
	if in.Body.TemplateID != "" {
		action = authz.ReadTemplates
	}
	if err := authz.Authorize(ctx, action); err != nil {
		return nil, err
	}
	hash, _ := hex.DecodeString(in.Body.FileID)
	a, _ := authz.ActorFrom(ctx)
	tags := in.Body.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	for k, v := range tags {
		if k == "" || strings.ContainsAny(k+v, "=,") {
			return nil, huma.Error422UnprocessableEntity("Tag keys and values cannot contain = or , and keys cannot be empty.",
				&huma.ErrorDetail{Location: "body.tags." + k, Message: "invalid tag", Value: v})
		}
	}
	rawTags, _ := json.Marshal(tags)
	seen := map[string]bool{}
	for i, val := range in.Body.Variables {
		if seen[val.Name] {
			return nil, huma.Error422UnprocessableEntity("Variable "+val.Name+" is given twice.",
				&huma.ErrorDetail{Location: fmt.Sprintf("body.variables[%d].name", i), Message: "duplicate", Value: val.Name})
		}
		seen[val.Name] = true
		in.Body.Variables[i].Sensitive = false
	}
	id := uuid.New()
	var sealed []byte
	if len(in.Body.Variables) > 0 {
		plain, _ := json.Marshal(in.Body.Variables)
		sealed = h.Boxes.Variables.Seal(plain, id.String())
	}
	var v dbsqlc.TemplateVersion
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		f, err := tx.GetFile(ctx, hash)
		if err != nil {
			if errors.Is(db.Translate(err), db.ErrNotFound) {
				return huma.Error404NotFound("No uploaded file with this ID.", &huma.ErrorDetail{Location: "body.file_id", Message: "not uploaded", Value: in.Body.FileID})
			}
			return err
		}
		src, err := scanSource(f, in.Body.Strict)
		if err != nil {
			return err
		}
		rawWarnings, _ := json.Marshal(src.Warnings)
		rawWorkspaceTags, _ := json.Marshal(src.WorkspaceTags)
		var templateID *uuid.UUID
		name, count := in.Body.Name, int64(0)
		if in.Body.TemplateID != "" {
			t, err := Lookup(ctx, tx.Queries, in.Body.TemplateID, "body.template_id", authz.AdminTemplate)
			if err != nil {
				return err
			}
			templateID = &t.ID
			if count, err = tx.CountTemplateVersions(ctx, templateID); err != nil {
				return err
			}
		}
		if name == "" {
			name = fmt.Sprintf("v%d", count+1)
		}
		if v, err = tx.InsertTemplateVersion(ctx, dbsqlc.InsertTemplateVersionParams{ID: id, FileHash: hash, Tags: rawTags, CreatedBy: &a.UserID,
			TemplateID: templateID, Name: name, Message: in.Body.Message, VariableValues: sealed,
			Warnings: rawWarnings, WorkspaceTags: rawWorkspaceTags}); err != nil {
			return err
		}
		if err := enqueueImport(ctx, h.River, tx, &v, importTags(tags, src)); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "template_version", ID: v.ID.String()}, audit.Diff(nil, h.toVersion(v)))
	})
	if err != nil {
		return nil, err
	}
	return &VersionOutput{Body: h.toVersion(v)}, nil
}

// enqueueImport inserts a version's import job and wakes the workers that take it.
func enqueueImport(ctx context.Context, r *river.Client[pgx.Tx], tx db.Tx, v *dbsqlc.TemplateVersion, tags map[string]string) error {
	queue := jobargs.ProvisionerQueue(tags)
	meta, _ := json.Marshal(jobargs.ProvisionerMetadata{Tags: tags})
	res, err := r.InsertTx(ctx, tx.Raw, jobargs.TemplateVersionImport{VersionID: v.ID.String()},
		&river.InsertOpts{Queue: queue, MaxAttempts: 3, Metadata: meta})
	if err != nil {
		return err
	}
	if err := tx.SetTemplateVersionJob(ctx, dbsqlc.SetTemplateVersionJobParams{ID: v.ID, JobID: &res.Job.ID}); err != nil {
		return err
	}
	v.JobID = &res.Job.ID
	return pgnotify.Notify(ctx, tx.Raw, provisioner.NotifyChannel, queue)
}

// VersionPath names a template version.
type VersionPath struct {
	ID uuid.UUID `path:"id"`
}

// VersionAllowed checks that the caller may do action (authz.UseTemplate or authz.AdminTemplate) to
// a version: as to its template, or, for a version of no template (yet), as its creator or a
// template admin. Those who may not use it get 404.
func VersionAllowed(ctx context.Context, q *dbsqlc.Queries, v dbsqlc.TemplateVersion, action authz.Action) error {
	missing := huma.Error404NotFound("No template version " + v.ID.String() + ".")
	if v.TemplateID != nil {
		t, err := q.GetTemplate(ctx, *v.TemplateID)
		if err == nil {
			return Allowed(ctx, q, t, action, missing)
		}
		if !errors.Is(db.Translate(err), db.ErrNotFound) {
			return err
		}
	}
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return err
	}
	if authz.Authorize(ctx, authz.ManageTemplates) == nil || (v.CreatedBy != nil && a.System == "" && *v.CreatedBy == a.UserID) {
		return nil
	}
	return missing
}

// version loads a version the caller may do action to.
func (h handlers) version(ctx context.Context, q *dbsqlc.Queries, id uuid.UUID, action authz.Action) (dbsqlc.TemplateVersion, error) {
	v, err := q.GetTemplateVersion(ctx, id)
	if err != nil {
		return v, db.Translate(err)
	}
	return v, VersionAllowed(ctx, q, v, action)
}

func (h handlers) getVersion(ctx context.Context, in *VersionPath) (*VersionOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	v, err := h.version(ctx, h.DB.Queries, in.ID, authz.UseTemplate)
	if err != nil {
		return nil, err
	}
	return &VersionOutput{Body: h.toVersion(v)}, nil
}

func (h handlers) archive(archived bool) func(context.Context, *VersionPath) (*VersionOutput, error) {
	return func(ctx context.Context, in *VersionPath) (*VersionOutput, error) {
		if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
			return nil, err
		}
		var v dbsqlc.TemplateVersion
		err := h.DB.InTx(ctx, func(tx db.Tx) error {
			before, err := h.version(ctx, tx.Queries, in.ID, authz.AdminTemplate)
			if err != nil {
				return err
			}
			if archived && before.TemplateID != nil {
				t, err := tx.LockTemplate(ctx, *before.TemplateID)
				if err == nil && t.ActiveVersionID == before.ID {
					return huma.Error409Conflict("The version is its template's active version; promote another first.",
						&huma.ErrorDetail{Location: "path.id", Message: "active", Value: in.ID})
				}
			}
			if v, err = tx.SetTemplateVersionArchived(ctx, dbsqlc.SetTemplateVersionArchivedParams{ID: in.ID, Archived: archived}); err != nil {
				return err
			}
			return audit.Record(ctx, tx.Queries, audit.Resource{Type: "template_version", ID: v.ID.String(), Name: v.Name},
				audit.Diff(h.toVersion(before), h.toVersion(v)))
		})
		if err != nil {
			return nil, err
		}
		return &VersionOutput{Body: h.toVersion(v)}, nil
	}
}

type logsInput struct {
	VersionPath
	After int64 `query:"after" minimum:"0" doc:"Only lines after this line ID."`
}

// LogLine is one stored line.
type LogLine struct {
	ID int64 `json:"id"`
	provisioner.LogLine
}

// LogsOutput is a page of log lines.
type LogsOutput struct {
	Body struct {
		Logs []LogLine `json:"logs"`
	}
}

func (h handlers) logs(ctx context.Context, in *logsInput) (*LogsOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	v, err := h.version(ctx, h.DB.Queries, in.ID, authz.AdminTemplate)
	if err != nil {
		return nil, err
	}
	out := &LogsOutput{}
	out.Body.Logs = []LogLine{}
	if v.JobID == nil {
		return out, nil
	}
	rows, err := h.DB.ListJobLogs(ctx, dbsqlc.ListJobLogsParams{JobID: *v.JobID, After: in.After})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out.Body.Logs = append(out.Body.Logs, LogLine{ID: r.ID, LogLine: provisioner.LogLine{Time: r.Time, Stage: r.Stage, Level: r.Level, Output: r.Output}})
	}
	return out, nil
}
