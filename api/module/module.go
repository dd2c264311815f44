// Package module is Hearth's Terraform module registry: template admins push module versions (an
// uploaded archive under a registry source such as registry.coder.com/coder/code-server/coder), and
// provisioner workers' Terraform resolves module sources of those registry hosts here, with the
// module registry protocol, instead of on the internet. Terraform authenticates with the job's token;
// the archive itself is fetched with a short-lived ticket in its URL.
package module

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/archive"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/tickets"
)

// Deps are what the resource needs.
type Deps struct {
	DB       *db.DB
	Tickets  *tickets.Signer
	Security []map[string][]string
}

type handlers struct{ Deps }

// RegistryPath is where the module registry protocol is served, per registry host: a worker's
// Terraform gets host blocks pointing modules.v1 of each host at RegistryPath + host + "/".
const RegistryPath = "/api/v2/module-registry/"

// archiveTTL is how long the archive URL a download answers with works.
const archiveTTL = 5 * time.Minute

// Register adds the operations.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	huma.Register(api, huma.Operation{
		OperationID: "create-module", Method: http.MethodPost, Path: "/api/v2/modules", Summary: "Push a module version",
		Description:   "Makes an uploaded archive (upload-file) a version of a registry module, which templates' module blocks then find at their source with a version constraint. Versions are immutable. Template admins.",
		Tags:          []string{"Modules"},
		Security:      d.Security,
		DefaultStatus: http.StatusCreated,
		Errors:        []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.create)
	huma.Register(api, huma.Operation{
		OperationID: "list-modules", Method: http.MethodGet, Path: "/api/v2/modules", Summary: "List module versions",
		Tags: []string{"Modules"}, Security: d.Security, Errors: []int{http.StatusUnauthorized},
	}, h.list)
	base := RegistryPath + "{host}/{namespace}/{name}/{system}/"
	huma.Register(api, huma.Operation{
		OperationID: "module-registry-versions", Method: http.MethodGet, Path: base + "versions", Summary: "List a module's versions (module registry protocol)",
		Description: "For Terraform: send the job token as Authorization: Bearer (a worker's Terraform does, from the credentials block it is given).",
		Tags:        []string{"Modules"}, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.versions)
	huma.Register(api, huma.Operation{
		OperationID: "module-registry-download", Method: http.MethodGet, Path: base + "{version}/download", Summary: "Locate a module version's archive (module registry protocol)",
		Description:   "Answers 204 with X-Terraform-Get: the archive's URL, with a ticket valid for 5 minutes.",
		Tags:          []string{"Modules"},
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.download)
	huma.Register(api, huma.Operation{
		OperationID: "module-registry-archive", Method: http.MethodGet, Path: base + "{version}/archive.tar.gz", Summary: "Download a module version's archive",
		Description: "The archive as gzipped tar, for the ticket a download answered with.",
		Tags:        []string{"Modules"}, Errors: []int{http.StatusUnauthorized, http.StatusNotFound},
	}, h.archive)
}

// Module is a module version.
type Module struct {
	Source    string    `json:"source" doc:"HOST/NAMESPACE/NAME/SYSTEM, as templates write it."`
	Version   string    `json:"version"`
	FileID    string    `json:"file_id"`
	CreatedAt time.Time `json:"created_at"`
}

func toModule(m dbsqlc.Module) Module {
	return Module{Source: strings.Join([]string{m.Host, m.Namespace, m.Name, m.System}, "/"), Version: m.Version,
		FileID: hex.EncodeToString(m.FileHash), CreatedAt: m.CreatedAt}
}

var (
	part    = regexp.MustCompile(`^[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?$`)
	host    = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::[0-9]{1,5})?$`)
	version = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)
)

// ParseSource splits HOST/NAMESPACE/NAME/SYSTEM.
func ParseSource(s string) (h, namespace, name, system string, err error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || !host.MatchString(parts[0]) || !part.MatchString(parts[1]) || !part.MatchString(parts[2]) || !part.MatchString(parts[3]) {
		return "", "", "", "", fmt.Errorf("%q is not a registry module source: want HOST/NAMESPACE/NAME/SYSTEM, such as registry.coder.com/coder/code-server/coder", s)
	}
	return parts[0], parts[1], parts[2], parts[3], nil
}

type createModuleInput struct {
	Body struct {
		Source  string `json:"source" maxLength:"400" doc:"HOST/NAMESPACE/NAME/SYSTEM, such as registry.coder.com/coder/code-server/coder."`
		Version string `json:"version" maxLength:"64" doc:"A semantic version, such as 1.3.0."`
		FileID  string `json:"file_id" pattern:"^[0-9a-f]{64}$" doc:"From upload-file: a tar or zip of the module's directory."`
	}
}

// ModuleOutput is one module version.
type ModuleOutput struct {
	Body Module
}

func (h handlers) create(ctx context.Context, in *createModuleInput) (*ModuleOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageTemplates); err != nil {
		return nil, err
	}
	hst, ns, name, system, err := ParseSource(in.Body.Source)
	if err != nil {
		return nil, huma.Error422UnprocessableEntity(err.Error(), &huma.ErrorDetail{Location: "body.source", Message: "not a module source", Value: in.Body.Source})
	}
	if !version.MatchString(in.Body.Version) {
		return nil, huma.Error422UnprocessableEntity(fmt.Sprintf("%q is not a semantic version, such as 1.3.0.", in.Body.Version),
			&huma.ErrorDetail{Location: "body.version", Message: "not a semantic version", Value: in.Body.Version})
	}
	hash, _ := hex.DecodeString(in.Body.FileID)
	a, _ := authz.ActorFrom(ctx)
	var m dbsqlc.Module
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		f, err := tx.GetFile(ctx, hash)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return huma.Error404NotFound("No uploaded file with this ID.", &huma.ErrorDetail{Location: "body.file_id", Message: "not uploaded", Value: in.Body.FileID})
		}
		if err != nil {
			return err
		}
		if err := archive.Check(f.Data, f.ContentType); err != nil {
			return huma.Error422UnprocessableEntity(strings.Replace(err.Error(), "template archive", "module archive", 1)+".",
				&huma.ErrorDetail{Location: "body.file_id", Message: "invalid archive"})
		}
		var creator = &a.UserID
		m, err = tx.InsertModule(ctx, dbsqlc.InsertModuleParams{Host: hst, Namespace: ns, Name: name, System: system, Version: in.Body.Version,
			FileHash: hash, CreatedBy: creator})
		if db.IsUniqueViolation(err, "modules_pkey") {
			return huma.Error409Conflict(fmt.Sprintf("Version %s of %s exists already; versions do not change: push a new version.", in.Body.Version, in.Body.Source),
				&huma.ErrorDetail{Location: "body.version", Message: "exists", Value: in.Body.Version})
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "module", ID: in.Body.Source + "@" + in.Body.Version, Name: in.Body.Source},
			audit.Diff(nil, toModule(m)))
	})
	if err != nil {
		return nil, err
	}
	return &ModuleOutput{Body: toModule(m)}, nil
}

// ModulesOutput lists module versions.
type ModulesOutput struct {
	Body struct {
		Modules []Module `json:"modules"`
	}
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*ModulesOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	rows, err := h.DB.ListModules(ctx)
	if err != nil {
		return nil, err
	}
	out := &ModulesOutput{}
	out.Body.Modules = make([]Module, len(rows))
	for i, r := range rows {
		out.Body.Modules[i] = toModule(r)
	}
	return out, nil
}

// modulePath names a module in the registry protocol, with Terraform's credentials.
type modulePath struct {
	Host          string `path:"host" maxLength:"260"`
	Namespace     string `path:"namespace" maxLength:"64"`
	Name          string `path:"name" maxLength:"64"`
	System        string `path:"system" maxLength:"64"`
	Authorization string `header:"Authorization" doc:"Bearer and a provisioner job's token."`
}

func (p modulePath) source() string {
	return strings.Join([]string{p.Host, p.Namespace, p.Name, p.System}, "/")
}

// checkJob accepts a provisioner job's token: the registry is for the workers' Terraform.
func (h handlers) checkJob(authorization string) error {
	raw, _ := strings.CutPrefix(authorization, "Bearer ")
	if _, err := h.Tickets.VerifyLocal(strings.TrimSpace(raw), tickets.KindJob, 0); err != nil {
		return huma.Error401Unauthorized("The module registry answers provisioner jobs: send the job's token as Authorization: Bearer.")
	}
	return nil
}

// RegistryVersions is the module registry protocol's list of versions: one module, its versions.
type RegistryVersions struct {
	Modules []RegistryModule `json:"modules"`
}

// RegistryModule is a module's versions in the protocol.
type RegistryModule struct {
	Versions []RegistryVersion `json:"versions"`
}

// RegistryVersion is one version in the protocol.
type RegistryVersion struct {
	Version string `json:"version"`
}

// RegistryVersionsOutput answers a list of versions.
type RegistryVersionsOutput struct {
	Body RegistryVersions
}

func (h handlers) versions(ctx context.Context, in *modulePath) (*RegistryVersionsOutput, error) {
	if err := h.checkJob(in.Authorization); err != nil {
		return nil, err
	}
	rows, err := h.DB.ListModuleVersions(ctx, dbsqlc.ListModuleVersionsParams{Host: in.Host, Namespace: in.Namespace, Name: in.Name, System: in.System})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, huma.Error404NotFound("Hearth's module registry has no module " + in.source() + ": push it with hearth modules push DIR --source " + in.source() + " --version VERSION.")
	}
	m := RegistryModule{}
	for _, v := range rows {
		m.Versions = append(m.Versions, RegistryVersion{Version: v})
	}
	return &RegistryVersionsOutput{Body: RegistryVersions{Modules: []RegistryModule{m}}}, nil
}

// versionPath names a module version (the fields spelled out: huma reads one level of embedding).
type versionPath struct {
	Host          string `path:"host" maxLength:"260"`
	Namespace     string `path:"namespace" maxLength:"64"`
	Name          string `path:"name" maxLength:"64"`
	System        string `path:"system" maxLength:"64"`
	Version       string `path:"version" maxLength:"64"`
	Authorization string `header:"Authorization" doc:"Bearer and a provisioner job's token."`
}

func (p versionPath) source() string {
	return strings.Join([]string{p.Host, p.Namespace, p.Name, p.System}, "/")
}

// DownloadOutput points Terraform at the archive.
type DownloadOutput struct {
	Get string `header:"X-Terraform-Get" doc:"The archive's URL, relative to this one."`
}

func (h handlers) download(ctx context.Context, in *versionPath) (*DownloadOutput, error) {
	if err := h.checkJob(in.Authorization); err != nil {
		return nil, err
	}
	if _, err := h.find(ctx, in); err != nil {
		return nil, err
	}
	ticket, err := h.Tickets.SignLocal(tickets.KindModule, "terraform", in.source()+"@"+in.Version, archiveTTL)
	if err != nil {
		return nil, err
	}
	return &DownloadOutput{Get: "./archive.tar.gz?ticket=" + ticket}, nil
}

func (h handlers) find(ctx context.Context, in *versionPath) (dbsqlc.GetModuleArchiveRow, error) {
	m, err := h.DB.GetModuleArchive(ctx, dbsqlc.GetModuleArchiveParams{Host: in.Host, Namespace: in.Namespace, Name: in.Name, System: in.System, Version: in.Version})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return m, huma.Error404NotFound(fmt.Sprintf("Hearth's module registry has no version %s of %s.", in.Version, in.source()))
	}
	return m, err
}

type archiveInput struct {
	Host      string `path:"host" maxLength:"260"`
	Namespace string `path:"namespace" maxLength:"64"`
	Name      string `path:"name" maxLength:"64"`
	System    string `path:"system" maxLength:"64"`
	Version   string `path:"version" maxLength:"64"`
	Ticket    string `query:"ticket" maxLength:"2048" doc:"From the download endpoint's X-Terraform-Get."`
}

func (in archiveInput) versionPath() *versionPath {
	return &versionPath{Host: in.Host, Namespace: in.Namespace, Name: in.Name, System: in.System, Version: in.Version}
}

func (h handlers) archive(ctx context.Context, in *archiveInput) (*huma.StreamResponse, error) {
	c, err := h.Tickets.VerifyLocal(in.Ticket, tickets.KindModule, 0)
	p := in.versionPath()
	if err != nil || c.Resource != p.source()+"@"+in.Version {
		return nil, huma.Error401Unauthorized("The archive's ticket is missing, expired or for another module; ask the download endpoint again.")
	}
	m, err := h.find(ctx, p)
	if err != nil {
		return nil, err
	}
	body, err := gzipTar(m.Data, m.ContentType)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		hctx.SetHeader("Content-Type", "application/gzip")
		_, _ = hctx.BodyWriter().Write(body)
	}}, nil
}

// gzipTar turns a stored archive into the gzipped tar Terraform's getter unpacks; a zip is served as
// the tar of its files.
func gzipTar(data []byte, contentType string) ([]byte, error) {
	tarData := data
	if contentType == "application/zip" {
		var err error
		if tarData, err = archive.ZipToTar(data); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := io.Copy(zw, bytes.NewReader(tarData)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
