// Package server runs the control plane: the database (external or embedded), migrations, the River
// client and the HTTP tier, started in that order and stopped in the reverse one.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hearthdev/hearth/api"
	"github.com/hearthdev/hearth/api/users"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/pgembed"
	"github.com/hearthdev/hearth/internal/tickets"
	"github.com/hearthdev/hearth/jobs"
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
	// DataDir holds the embedded PostgreSQL cluster (DataDir/postgres).
	DataDir string
	// SecretKeyFile holds the deployment's secret key, which seals the ticket signing keys in the
	// database. Empty means DataDir/secret.key, made on first start.
	SecretKeyFile string
	// OIDC, when its issuer is set, turns on OIDC sign-in.
	OIDC *users.OIDCConfig
	// ShutdownTimeout bounds the graceful drain of requests and jobs.
	ShutdownTimeout time.Duration
	Logger          *slog.Logger
	// Ready, when set, is called once requests are accepted, with the listening address.
	Ready func(addr net.Addr, accessURL string)
}

// Run serves until ctx ends (or the embedded database dies), then drains and stops everything.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
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

	database, err := db.Open(ctx, dbURL, db.Options{ApplicationName: "hearth-server"})
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

	queue, err := jobs.New(jobs.Config{DB: database, Logger: log, Tickets: signer})
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
	if u, err := url.Parse(accessURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		_ = ln.Close()
		return fmt.Errorf("access URL %q: want an absolute http:// or https:// URL", accessURL)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler := api.New(api.Deps{
		DB: database, Logger: log, Registry: reg, Queue: queue, Web: web.Handler(),
		Auth: authn.New(database), Tickets: signer, SecureCookies: strings.HasPrefix(accessURL, "https://"),
		AccessURL: accessURL, OIDC: cfg.OIDC,
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
		cfg.Ready(ln.Addr(), accessURL)
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
