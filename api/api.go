// Package api is Hearth's HTTP tier: the huma API under /api/v2 with its OpenAPI 3.1 document, the
// middleware every request passes through, and the few plain endpoints beside it (liveness, metrics,
// API docs, the dashboard). Resources live in subpackages, each with a Register function.
package api

import (
	"log/slog"
	"net/http"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"

	"github.com/hearthdev/hearth/api/app"
	"github.com/hearthdev/hearth/api/audit"
	"github.com/hearthdev/hearth/api/docs"
	"github.com/hearthdev/hearth/api/externalauth"
	"github.com/hearthdev/hearth/api/groups"
	"github.com/hearthdev/hearth/api/health"
	"github.com/hearthdev/hearth/api/module"
	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/region"
	"github.com/hearthdev/hearth/api/template"
	"github.com/hearthdev/hearth/api/ticket"
	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/api/workspace"
	"github.com/hearthdev/hearth/internal/activity"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coordinator"
	"github.com/hearthdev/hearth/internal/db"
	iexternalauth "github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/metadata"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/prebuilds"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/riverclaim"
	"github.com/hearthdev/hearth/internal/seal"
	"github.com/hearthdev/hearth/internal/tickets"
)

// Prefix is where the API lives; operation paths include it.
const Prefix = "/api/v2"

// Deps are the dependencies of every resource.
type Deps struct {
	DB       *db.DB
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Queue    health.Queue
	Auth     *authn.Authenticator
	Tickets  *tickets.Signer
	// River inserts and cancels jobs; Listener wakes waiting provisioner workers.
	River    *river.Client[pgx.Tx]
	Listener *pgnotify.Listener
	// ProvisionerKeys are the pre-shared keys workers may use; LeaseTime and CancelGrace tune jobs.
	ProvisionerKeys *provisioning.Keys
	LeaseTime       time.Duration
	CancelGrace     time.Duration
	// AccessURL is where browsers reach the deployment.
	AccessURL string
	// OIDC, when set, turns on OIDC sign-in.
	OIDC *users.OIDCConfig
	// SecureCookies marks cookies Secure; set when the access URL is https.
	SecureCookies bool
	// AppsHost is the wildcard host of subdomain apps (*.apps.example.com); empty turns them off.
	AppsHost string
	// AllowPathAppSharing opens shared path apps to others than their owner; UnsandboxedTemplates
	// names templates whose path apps are not sandboxed. Both are dangerous (see package app).
	AllowPathAppSharing  bool
	UnsandboxedTemplates []string
	// Boxes seal Terraform state and template variable values.
	Boxes seal.Boxes
	// ExternalAuth is the external auth providers and users' links to them.
	ExternalAuth *iexternalauth.Links
	// Logs wakes followers of build logs.
	Logs *pgnotify.Listener
	// Pools is what the prebuild reconciler last saw of each preset's pool (its metrics, on the
	// leader; the API reads the view the leader publishes in the database); MaxPrebuilds caps a
	// preset's prebuilds.instances in an active version (0: no cap).
	Pools        *prebuilds.Pools
	MaxPrebuilds int
	// AgentBinary is the binary served to workspaces as their agent (the server's own, normally);
	// empty serves none.
	AgentBinary string
	// Relay holds this replica's agent tunnels and reaches the others'; Activity records workspace use.
	Relay    *relay.Relay
	Activity *activity.Recorder
	// Metadata buffers agents' metadata reports (nil: written as they come).
	Metadata *metadata.Buffer
	// Coordinator passes tailnet nodes between agents and clients; DERP serves this replica's DERP
	// at /derp; ProxyMeshKey is the key a workspace proxy's DERP servers mesh with. All nil when
	// direct connections are off.
	Coordinator  *coordinator.Coordinator
	DERP         http.Handler
	ProxyMeshKey func(proxy uuid.UUID) string
	// AuthzChanges says when open connections must check their callers' authority again (nil:
	// every second).
	AuthzChanges *authz.Changes
	// Web serves the dashboard for every path the API does not own; nil serves 404s.
	Web http.Handler
}

// New builds the HTTP handler of the control plane.
func New(deps Deps) http.Handler {
	errorLog.Store(deps.Logger)
	deps.Registry.MustRegister(deps.DB.Collector(), deps.DB.WritesCollector(), deps.DB.StateCollector(), provisioner.NewCollector(deps.DB, deps.Logger))
	if deps.Pools != nil {
		deps.Registry.MustRegister(deps.Pools)
	}
	if deps.ExternalAuth == nil {
		deps.ExternalAuth = iexternalauth.NewLinks(deps.DB, deps.Boxes.ExternalAuth, nil, deps.Logger)
	}
	mux := http.NewServeMux()
	hapi := humago.New(mux, config())
	hapi.UseMiddleware(nameOperation, authenticate(hapi, deps.Auth, deps.AccessURL), recordAudit(deps.DB, deps.Logger))
	apps := register(hapi, deps)

	mux.Handle("GET /healthz", named("healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})))
	if deps.DERP != nil {
		mux.Handle("/derp", named("derp", hijackable(deps.DERP)))
		mux.Handle("/derp/", named("derp", hijackable(deps.DERP)))
	}
	mux.Handle("GET /bin/{file}", named("agent-binary", agentBinary(deps.AgentBinary)))
	mux.Handle("GET /metrics", named("metrics", promhttp.HandlerFor(deps.Registry, promhttp.HandlerOpts{Registry: deps.Registry})))
	mux.Handle("GET "+Prefix+"/docs", named("docs", docs.Handler(Prefix+"/openapi.json")))
	mux.Handle("GET "+Prefix+"/docs/", named("docs", docs.Handler(Prefix+"/openapi.json")))
	// Anything else under the API prefix is an unknown operation, answered as a problem, never as the
	// dashboard's index page.
	mux.Handle(Prefix+"/", named("not-found", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, &Problem{Status: http.StatusNotFound, Title: "Not Found",
			Detail: "No API operation at " + r.Method + " " + r.URL.Path + "; see " + Prefix + "/docs."})
	})))
	web := deps.Web
	if web == nil {
		web = http.NotFoundHandler()
	}
	mux.Handle("/", named("web", web))

	root := guard(mux)
	if deps.Relay != nil {
		// Workspace apps live on their own hosts and at /@OWNER/WORKSPACE/apps/SLUG/, which ServeMux
		// patterns cannot express.
		named, guarded := named("app", apps), root
		root = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if apps.Owns(r) {
				named.ServeHTTP(w, r)
				return
			}
			guarded.ServeHTTP(w, r)
		})
	}
	var skip func(*http.Request) bool
	if deps.Relay != nil {
		skip = apps.Owns
	}
	return observe(checkInput(root, skip), deps.Logger, newHTTPMetrics(deps.Registry))
}

// guard sets the headers of every dashboard and API response (apps are the proxy's): no sniffing,
// no framing, no referrer to other origins, no handle on the dashboard's window from windows of
// other origins, and a Content-Security-Policy that allows nothing, which pages that need more (the
// dashboard, the API docs) replace with their own.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

func init() {
	// Lists are never null in responses (transform makes sure), so the document says so.
	huma.DefaultArrayNullable = false
}

// schemaName names a Go type's schema after its package and type (health.Report is HealthReport),
// so resource packages can use short type names without their schemas colliding.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if !strings.HasPrefix(t.PkgPath(), "github.com/hearthdev/hearth/api/") {
		return name
	}
	pkg := path.Base(t.PkgPath())
	prefix := strings.ToUpper(pkg[:1]) + pkg[1:]
	if strings.HasPrefix(name, prefix) {
		return name
	}
	return prefix + name
}

// Spec returns the OpenAPI document, built from the registered operations without serving anything.
func Spec() *huma.OpenAPI {
	hapi := humago.New(http.NewServeMux(), config())
	register(hapi, Deps{})
	return hapi.OpenAPI()
}

// register adds every resource's operations. A new resource is added here, and nowhere else. It
// returns the app proxy, which also serves requests outside the API.
func register(hapi huma.API, deps Deps) *app.Proxy {
	health.Register(hapi, health.Deps{DB: deps.DB, Queue: deps.Queue, Logger: deps.Logger})
	audit.Register(hapi, audit.Deps{DB: deps.DB, Security: security})
	ticket.Register(hapi, ticket.Deps{Signer: deps.Tickets})
	var claimer *riverclaim.Claimer
	if deps.DB != nil {
		claimer = riverclaim.New(deps.DB.Pool, "hearth-server")
	}
	provisioner.Register(hapi, provisioner.Deps{DB: deps.DB, River: deps.River, Claimer: claimer, Listener: deps.Listener,
		Tickets: deps.Tickets, Logger: deps.Logger, Keys: deps.ProvisionerKeys, LeaseTime: deps.LeaseTime,
		CancelGrace: deps.CancelGrace, Security: security, Boxes: deps.Boxes, ExternalAuth: deps.ExternalAuth})
	template.Register(hapi, template.Deps{DB: deps.DB, River: deps.River, Security: security, Boxes: deps.Boxes, MaxPrebuilds: deps.MaxPrebuilds})
	module.Register(hapi, module.Deps{DB: deps.DB, Tickets: deps.Tickets, Security: security})
	workspace.Register(hapi, workspace.Deps{DB: deps.DB, River: deps.River, Variables: deps.Boxes.Variables, Logs: deps.Logs, Security: security, Logger: deps.Logger,
		Relay: deps.Relay, Activity: deps.Activity, Metadata: deps.Metadata, Tickets: deps.Tickets, Coordinator: deps.Coordinator, Auth: deps.Auth, AuthzChanges: deps.AuthzChanges,
		ExternalAuth: deps.ExternalAuth, AccessURL: deps.AccessURL, GitSSHKeys: deps.Boxes.GitSSHKeys})
	externalauth.Register(hapi, externalauth.Deps{DB: deps.DB, Links: deps.ExternalAuth, Tickets: deps.Tickets, Security: security,
		AccessURL: deps.AccessURL, SecureCookies: deps.SecureCookies})
	groups.Register(hapi, groups.Deps{DB: deps.DB, Auth: deps.Auth, Security: security})
	region.Register(hapi, region.Deps{DB: deps.DB, Security: security, Coordinator: deps.Coordinator, MeshKey: deps.ProxyMeshKey})
	users.Register(hapi, users.Deps{DB: deps.DB, Logger: deps.Logger, Auth: deps.Auth, SecureCookies: deps.SecureCookies, Security: security,
		Tickets: deps.Tickets, AccessURL: deps.AccessURL, OIDC: deps.OIDC, GitSSHKeys: deps.Boxes.GitSSHKeys, OIDCTokens: deps.Boxes.OIDCTokens, ExternalAuth: deps.ExternalAuth})
	apps := app.New(app.Deps{DB: deps.DB, Auth: deps.Auth, Tickets: deps.Tickets, Relay: deps.Relay, Activity: deps.Activity,
		Logger: deps.Logger, SecureCookies: deps.SecureCookies, AccessURL: deps.AccessURL, AppsHost: deps.AppsHost,
		AllowPathAppSharing: deps.AllowPathAppSharing, UnsandboxedTemplates: deps.UnsandboxedTemplates})
	apps.Register(hapi)
	declarePublic(hapi.OpenAPI())
	return apps
}

// declarePublic marks operations that take no credentials (health, sign-in, the ticket keys...) with
// the empty security requirement, so the document says "anyone" rather than leaving it unsaid.
func declarePublic(doc *huma.OpenAPI) {
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil && len(op.Security) == 0 {
				op.Security = []map[string][]string{{}}
			}
		}
	}
}

func config() huma.Config {
	// The document's version is the API's, not the build's, so the committed document does not change
	// with every commit. Error responses are documented as Problem because huma.NewError returns one.
	cfg := huma.DefaultConfig("Hearth API", "2")
	cfg.Info.Description = "The API of Hearth, a self-hosted platform for remote development environments. " +
		"Every error is an RFC 9457 problem document (application/problem+json)."
	cfg.OpenAPIPath = Prefix + "/openapi"
	cfg.Servers = []*huma.Server{{URL: "/", Description: "The deployment serving this document."}}
	cfg.SchemasPath = Prefix + "/schemas"
	// Docs are served from embedded assets (docs.Handler), so they work without internet access.
	cfg.DocsPath = ""
	// No $schema links in response bodies: they would become a field of every generated client type.
	cfg.CreateHooks = nil
	cfg.Transformers = []huma.Transformer{transform}
	cfg.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	cfg.Components.SecuritySchemes = securitySchemes
	return cfg
}
