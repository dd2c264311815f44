// Package server runs the control plane: the database (external or embedded), migrations, the River
// client and the HTTP tier, started in that order and stopped in the reverse one.
package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hearthdev/hearth/api"
	"github.com/hearthdev/hearth/api/app"
	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/template"
	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/api/workspace"
	"github.com/hearthdev/hearth/internal/activity"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/buildinfo"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/externalauth"
	"github.com/hearthdev/hearth/internal/metadata"
	"github.com/hearthdev/hearth/internal/pgembed"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/prebuilds"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/seal"
	"github.com/hearthdev/hearth/internal/tickets"
	"github.com/hearthdev/hearth/jobs"
	worker "github.com/hearthdev/hearth/provisioner-worker"
	"github.com/hearthdev/hearth/web"
)

// Config configures the control plane.
type Config struct {
	// AccessURL is how users and workspaces reach this deployment; default http://HTTPAddress.
	AccessURL string
	// HTTPAddress is where the HTTP tier listens.
	HTTPAddress string
	// PostgresURL points at an external PostgreSQL; when empty, an embedded one runs under DataDir.
	PostgresURL string
	// PostgresMaxConns caps this replica's connections (0: db.DefaultMaxConns).
	PostgresMaxConns int
	// DataDir holds the embedded PostgreSQL cluster (DataDir/postgres).
	DataDir string
	// SecretKeyFile holds the deployment's secret key, which seals the ticket signing keys in the
	// database. Empty means DataDir/secret.key, made on first start.
	SecretKeyFile string
	// Provisioners is how many built-in provisioner workers run (through the same API as external ones).
	Provisioners int
	// ProvisionerKeys are the pre-shared keys external workers may use; none refuses them all.
	ProvisionerKeys []string
	// ProvisionerLease is how long a job survives its worker's silence; CancelGrace how long Terraform
	// gets between SIGINT and SIGKILL when a job is canceled.
	ProvisionerLease time.Duration
	CancelGrace      time.Duration
	// UnmatchedAfter is how long a job may wait for a worker that takes it before that is logged.
	UnmatchedAfter time.Duration
	// Retention says how long the maintenance jobs keep logs, expired tokens, audit entries, unused
	// uploads and gone workers (0: forever).
	Retention jobs.Retention
	// PrebuildsMaxBuilds bounds prebuild builds under way at once; PrebuildsEvery is how often the
	// pools are reconciled.
	PrebuildsMaxBuilds    int
	PrebuildsEvery        time.Duration
	PrebuildsMaxInstances int
	// TerraformPath, ProviderMirrors and ProviderDirect configure the built-in workers' Terraform:
	// providers from the mirrors, and from their registries those no mirror has only with
	// ProviderDirect (or with no mirror at all).
	TerraformPath   string
	ProviderMirrors []string
	ProviderDirect  bool
	// OIDC, when its issuer is set, turns on OIDC sign-in.
	OIDC *users.OIDCConfig
	// ExternalAuth is the external auth providers users link their accounts to (externalauth.Load).
	ExternalAuth []*externalauth.Provider
	// Templates are made at start, by name, from directories of Terraform files, unless a template
	// of that name exists (NAME -> DIR).
	Templates map[string]string
	// RelayAddress is where other replicas reach this one to relay agent connections; default
	// http://HOST:PORT of the listener (the hostname when listening on every interface).
	RelayAddress string
	// AgentBinary is the agent workspaces download; empty: hearth-agent beside this binary, else this
	// binary itself.
	AgentBinary string
	// AppsHost is the wildcard host of subdomain apps (*.apps.example.com, resolving to this
	// deployment); empty serves apps at paths only.
	AppsHost string
	// LocalAppsHost, when AppsHost is empty and the access URL is on this machine (a loopback
	// address or localhost), serves apps under LocalAppsPattern, which browsers resolve to this
	// machine with no DNS set-up: the safe form of apps works out of the box.
	LocalAppsHost bool
	// AllowPathAppSharing lets shared path apps open for others than their owner: their code then
	// runs on the dashboard's origin in the visitor's browser (sandboxed, unless UnsandboxedTemplates
	// names their template).
	AllowPathAppSharing bool
	// UnsandboxedTemplates names templates whose path apps are served without the sandbox.
	UnsandboxedTemplates []string
	// DERP turns on direct connections: the coordinator, and DERP served at /derp (off: every
	// connection goes through the relay). STUNAddress is the UDP address of the STUN server
	// (empty: none). DERPMapFile names a JSON file of more DERP regions ({"regions": [...]}, with
	// "omit_default_regions" to drop this deployment's own).
	DERP        bool
	STUNAddress string
	DERPMapFile string
	// TailnetEndpoints are the only networks direct paths may use (CIDR prefixes; none: any),
	// told to every agent and client through the coordinator.
	TailnetEndpoints []string
	// ShutdownTimeout bounds the graceful drain of requests and jobs.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// Ready, when set, is called once requests are accepted, with the listening address.
	Ready func(addr net.Addr, accessURL, appsHost string)
}

// LocalAppsPattern is where apps are served when the deployment is reached on this machine.
const LocalAppsPattern = "*.apps.localhost"

// onThisMachine reports whether a host name is this machine's: localhost or a loopback address.
func onThisMachine(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run serves until ctx ends (or the embedded database dies), then drains and stops everything.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if err := app.CheckHost(cfg.AppsHost); err != nil {
		return err
	}
	if cfg.AllowPathAppSharing {
		log.Warn("shared path apps are on (--dangerous-allow-path-app-sharing): a shared app's code runs on the dashboard's origin in the browser of whoever opens it")
	}
	if len(cfg.UnsandboxedTemplates) > 0 {
		log.Warn("path apps of these templates run without the sandbox, able to act as whoever opens them (--dangerous-unsandboxed-path-apps)",
			"templates", cfg.UnsandboxedTemplates)
	}
	// Everything stopped on the way out gets its own deadline: ctx is already done by then.
	stopCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	}

	dbURL := cfg.PostgresURL
	var embeddedDone <-chan struct{}
	if dbURL == "" {
		start := time.Now()
		cluster, err := pgembed.Start(ctx, pgembed.Config{Dir: filepath.Join(cfg.DataDir, "postgres"), Logger: log})
		if err != nil {
			return fmt.Errorf("embedded postgres: %w", err)
		}
		defer func() {
			c, cancel := stopCtx()
			defer cancel()
			_ = cluster.Stop(c)
			log.Info("embedded PostgreSQL stopped")
		}()
		dbURL, embeddedDone = cluster.URL(), cluster.Done()
		log.Info("embedded PostgreSQL ready", "dir", filepath.Join(cfg.DataDir, "postgres"), "elapsed_ms", time.Since(start).Milliseconds())
	}

	conns := int32(db.DefaultMaxConns)
	if cfg.PostgresMaxConns > 0 {
		conns = int32(min(cfg.PostgresMaxConns, 10_000)) //nolint:gosec // bounded
	}
	database, err := db.Open(ctx, dbURL, db.Options{ApplicationName: "hearth-server", MaxConns: conns})
	if err != nil {
		return err
	}
	defer database.Close()
	if err := db.Migrate(ctx, database.Pool, log); err != nil {
		return err
	}

	keyFile, create := cfg.SecretKeyFile, false
	if keyFile == "" {
		keyFile, create = filepath.Join(cfg.DataDir, "secret.key"), true
	}
	secret, err := secretKey(keyFile, create)
	if err != nil {
		return err
	}
	signer, err := tickets.NewSigner(ctx, database, secret, cfg.AccessURL)
	if err != nil {
		return err
	}
	boxes, err := seal.NewBoxes(secret)
	if err != nil {
		return err
	}

	var queue *jobs.Client
	// The scheduler's builds go through the same code as the API's, on this River client.
	scheduled := func(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error {
		return workspace.ScheduledBuild(workspace.Deps{DB: database, River: queue.Client, Logger: log})(ctx, tx, w, transition, action)
	}
	prebuild := func(ctx context.Context, tx db.Tx, templateID, versionID uuid.UUID, preset string) error {
		return workspace.CreatePrebuild(workspace.Deps{DB: database, River: queue.Client, Logger: log})(ctx, tx, templateID, versionID, preset)
	}
	pools := &prebuilds.Pools{}
	queue, err = jobs.New(jobs.Config{DB: database, Logger: log, Tickets: signer, UnmatchedAfter: cfg.UnmatchedAfter,
		Build: scheduled, Retention: cfg.Retention, Pools: pools,
		Prebuilds: jobs.PrebuildsConfig{Create: prebuild, MaxBuilds: cfg.PrebuildsMaxBuilds, Every: cfg.PrebuildsEvery}})
	if err != nil {
		return err
	}
	if err := queue.Start(ctx); err != nil {
		return err
	}
	defer func() {
		c, cancel := stopCtx()
		defer cancel()
		if err := queue.Stop(c); err != nil {
			log.Warn("job queue did not stop cleanly", "error", err)
		}
	}()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.HTTPAddress)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddress, err)
	}
	accessURL := cfg.AccessURL
	if accessURL == "" {
		accessURL = "http://" + ln.Addr().String()
	}
	u, err := url.Parse(accessURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		_ = ln.Close()
		return fmt.Errorf("access URL %q: want an absolute http:// or https:// URL", accessURL)
	}
	if cfg.AppsHost == "" && cfg.LocalAppsHost && onThisMachine(u.Hostname()) {
		cfg.AppsHost = LocalAppsPattern
	}
	if cfg.AppsHost == "" {
		log.Warn("no --wildcard-access-url: apps are served at sandboxed paths of the dashboard, where a page's own scripts, styles and images do not load " +
			"and sharing is off; give apps hosts of their own with a wildcard DNS record and --wildcard-access-url '*.apps.example.com'")
	}
	listener, err := pgnotify.Listen(ctx, database.Pool, provisioner.NotifyChannel, log)
	if err != nil {
		return err
	}
	defer listener.Close()
	logs, err := pgnotify.Listen(ctx, database.Pool, provisioning.LogsChannel, log)
	if err != nil {
		return err
	}
	defer logs.Close()
	auth := authn.New(database)
	revocations, err := pgnotify.Listen(ctx, database.Pool, authn.RevocationChannel, log)
	if err != nil {
		return err
	}
	defer revocations.Close()
	auth.Watch(revocations)
	// Open connections check their callers' authority again when a revocation or a change of rights
	// is announced on the same channel.
	changes := &authz.Changes{}
	revocations.OnEach(func(string) { changes.Announce() })
	agentBinary := findAgentBinary(cfg.AgentBinary, log)
	builtinKey := rand.Text()
	keys := provisioning.NewKeys(append([]string{builtinKey}, cfg.ProvisionerKeys...)...)

	hostname, _ := os.Hostname()
	relays := relay.New(relay.Config{DB: database, Tickets: signer, Address: relayAddress(cfg.RelayAddress, ln.Addr(), hostname),
		Hostname: hostname, Version: buildinfo.Version(), Logger: log})
	if err := relays.Start(ctx); err != nil {
		_ = ln.Close()
		return err
	}
	defer func() {
		c, cancel := stopCtx()
		defer cancel()
		if err := relays.Stop(c); err != nil {
			log.Warn("the relay did not stop cleanly", "error", err)
		}
	}()
	tail, err := startTailnet(ctx, cfg, database, relays.ID, accessURL, secret, changes, log)
	if err != nil {
		return err
	}
	if tail.coordinator != nil {
		// Agents whose tunnels other replicas or workspace proxies hold are reached over WireGuard
		// from this replica's own node first.
		relays.SetDirect(tail.coordinator.Direct())
	}
	defer func() {
		c, cancel := stopCtx()
		defer cancel()
		tail.stop(c)
	}()
	recorder := activity.New(database, 10*time.Second, log)
	recorder.Start(ctx)
	defer func() {
		c, cancel := stopCtx()
		defer cancel()
		recorder.Stop(c)
	}()
	values := metadata.New(database, time.Second, log)
	values.Start(ctx)
	defer func() {
		c, cancel := stopCtx()
		defer cancel()
		values.Stop(c)
	}()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), relays.Metrics())
	if tail.derp != nil {
		reg.MustRegister(tail.derp)
	}
	handler := api.New(api.Deps{
		DB: database, Logger: log, Registry: reg, Queue: queue, Web: web.Handler(),
		Auth: auth, Tickets: signer, SecureCookies: strings.HasPrefix(accessURL, "https://"),
		AccessURL: accessURL, OIDC: cfg.OIDC, River: queue.Client, Listener: listener, ProvisionerKeys: keys,
		LeaseTime: cfg.ProvisionerLease, CancelGrace: cfg.CancelGrace, Boxes: boxes, Logs: logs, AgentBinary: agentBinary,
		Relay: relays, Activity: recorder, Metadata: values, AppsHost: cfg.AppsHost,
		Coordinator: tail.coordinator, DERP: tail.derpHandler(), ProxyMeshKey: tail.proxyMeshKey(), AuthzChanges: changes,
		AllowPathAppSharing: cfg.AllowPathAppSharing, UnsandboxedTemplates: cfg.UnsandboxedTemplates, Pools: pools,
		MaxPrebuilds: cfg.PrebuildsMaxInstances, ExternalAuth: externalauth.NewLinks(database, boxes.ExternalAuth, cfg.ExternalAuth, log),
	})

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("serving", "address", ln.Addr().String(), "access_url", accessURL)
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr(), accessURL, cfg.AppsHost)
	}

	workersDone := make(chan struct{}, 2)
	workersCtx, stopWorkers := context.WithCancel(ctx)
	go func() {
		defer func() { workersDone <- struct{}{} }()
		runBuiltinWorkers(workersCtx, cfg, ln.Addr(), builtinKey, log)
	}()
	go func() {
		defer func() { workersDone <- struct{}{} }()
		provisioning.RunLeaseClock(workersCtx, database, log)
	}()
	defer func() {
		stopWorkers()
		<-workersDone
		<-workersDone
	}()
	for name, dir := range cfg.Templates {
		go func() {
			tdeps := template.Deps{DB: database, River: queue.Client, Boxes: boxes}
			if err := template.Seed(workersCtx, tdeps, name, dir); err != nil && workersCtx.Err() == nil {
				log.Warn("the template could not be made", "template", name, "dir", dir, "error", err)
				return
			}
			log.Info("template ready", "template", name, "dir", dir)
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	case <-embeddedDone:
		runErr = errors.New("the embedded PostgreSQL exited unexpectedly")
	}
	c, cancel := stopCtx()
	defer cancel()
	if err := srv.Shutdown(c); err != nil {
		log.Warn("requests did not drain in time", "error", err)
	}
	return runErr
}

// runBuiltinWorkers runs the server's own provisioner workers until ctx ends. They call this server's
// API over loopback with an internal key, exactly as external workers do.
func runBuiltinWorkers(ctx context.Context, cfg Config, addr net.Addr, key string, log *slog.Logger) {
	if cfg.Provisioners <= 0 {
		return
	}
	tf, err := worker.FindTerraform(ctx, cfg.TerraformPath)
	if err != nil {
		log.Warn("no built-in provisioner workers: "+err.Error(), "provisioners", cfg.Provisioners)
		return
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	hostname, _ := os.Hostname()
	err = worker.Run(ctx, worker.Config{
		URL: "http://" + net.JoinHostPort(host, port), Key: key, Name: "builtin-" + hostname, Concurrency: cfg.Provisioners,
		Builtin: true, Logger: log,
		Runner: worker.Runner{Terraform: tf, Mirrors: cfg.ProviderMirrors, Direct: cfg.ProviderDirect, WorkDir: filepath.Join(cfg.DataDir, "provisioner"), AccessURL: cfg.AccessURL},
	})
	if err != nil {
		log.Error("built-in provisioner workers stopped", "error", err)
	}
}

// relayAddress is where other replicas reach this one: the configured address, or the listener's
// (with the hostname in place of an unspecified IP).
func relayAddress(configured string, addr net.Addr, hostname string) string {
	if configured != "" {
		return configured
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() && hostname != "" {
		host = hostname
	}
	return "http://" + net.JoinHostPort(host, port)
}
