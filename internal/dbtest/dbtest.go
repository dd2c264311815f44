// Package dbtest gives each test its own migrated PostgreSQL database in milliseconds: one cluster for
// the whole test run (HEARTH_TEST_POSTGRES_URL, or one started from the system's binaries), a template
// database built once per schema hash, and CREATE DATABASE ... TEMPLATE per test.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/pgembed"
)

// EnvURL names a PostgreSQL server to create test databases on; its user must be allowed to create
// databases. When unset, each test binary starts a private cluster.
const EnvURL = "HEARTH_TEST_POSTGRES_URL"

// Settings make a throwaway cluster fast: nothing it holds needs to survive a crash.
var Settings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"max_connections":    "500",
	"shared_buffers":     "64MB",
}

var shared struct {
	once    sync.Once
	err     error
	admin   *pgxpool.Pool
	base    *url.URL
	cluster *pgembed.Cluster
	dir     string
	tmpl    string
}

// Main runs a package's tests, stops the package's private cluster if one was started, and fails the
// run if goroutines leak. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// NewURL creates a fresh, migrated database for t, dropped when t ends, and returns its URL.
func NewURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "template")
}

func newDatabase(t testing.TB, template string) string {
	t.Helper()
	ctx := context.Background()
	shared.once.Do(func() { shared.err = setup(ctx) })
	if shared.err != nil {
		t.Fatalf("dbtest: %v", shared.err)
	}
	if template != "" {
		template = "TEMPLATE " + shared.tmpl
	}
	name := "t_" + randomHex(8)
	if _, err := shared.admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s %s", name, template)); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := shared.admin.Exec(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	u := *shared.base
	u.Path = "/" + name
	return u.String()
}

// NewEmptyURL creates an empty database for t (no migrations applied), dropped when t ends.
func NewEmptyURL(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "")
}

// New returns an open pool on a fresh, migrated database for t; both are closed when t ends.
func New(t testing.TB) *db.DB {
	t.Helper()
	return NewSized(t, 8)
}

// NewSized is New with a pool of conns connections, for benchmarks that measure what the server's
// pool (db.DefaultMaxConns) does.
func NewSized(t testing.TB, conns int32) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), NewURL(t), db.Options{MaxConns: conns})
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(d.Close)
	return d
}

// Agent makes a workspace agent in SQL (no Terraform: a user, template, workspace and build named
// after name, which must be unique in the database) and returns its ID.
func Agent(t testing.TB, d *db.DB, name string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	err := d.Pool.QueryRow(context.Background(), `
		WITH u AS (INSERT INTO users (username, email) VALUES ($1, $1 || '@example.com') RETURNING id),
		f AS (INSERT INTO files (hash, content_type, data) VALUES (sha256($1::bytea), 'application/x-tar', 'x') RETURNING hash),
		v AS (INSERT INTO template_versions (file_hash, status) SELECT hash, 'succeeded' FROM f RETURNING id),
		t AS (INSERT INTO templates (name, active_version_id) SELECT $1, id FROM v RETURNING id, active_version_id),
		w AS (INSERT INTO workspaces (owner_id, template_id, name) SELECT u.id, t.id, 'ws' FROM u, t RETURNING id),
		b AS (INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status)
		      SELECT w.id, 1, t.active_version_id, 'start', 'succeeded' FROM w, t RETURNING id),
		r AS (INSERT INTO workspace_resources (build_id, type, name) SELECT id, 'null_resource', 'x' FROM b RETURNING id, build_id)
		INSERT INTO workspace_agents (resource_id, build_id, name, os, arch, token_hash)
		SELECT r.id, r.build_id, 'main', 'linux', 'amd64', sha256($1::bytea) FROM r RETURNING id`, name).Scan(&id)
	if err != nil {
		t.Fatalf("dbtest: making agent %q: %v", name, err)
	}
	return id
}

// TempDir is t.TempDir made reachable (mode 0711 up to the system temp directory) by the unprivileged
// user that PostgreSQL runs as when the tests run as root.
func TempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatalf("dbtest: %v", err)
		}
	}
	return dir
}

// Logger is a logger for tests that writes nothing unless HEARTH_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("HEARTH_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func setup(ctx context.Context) error {
	raw := os.Getenv(EnvURL)
	if raw == "" {
		var err error
		shared.dir, err = os.MkdirTemp("", "hearth-testpg-")
		if err != nil {
			return err
		}
		// Reachable by the unprivileged user PostgreSQL runs as when the tests run as root.
		if err := os.Chmod(shared.dir, 0o711); err != nil {
			return err
		}
		shared.cluster, err = pgembed.Start(ctx, pgembed.Config{Dir: shared.dir + "/pg", NoSync: true, Settings: Settings, Database: "postgres"})
		if err != nil {
			return err
		}
		raw = shared.cluster.URL()
	}
	base, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a URL", EnvURL)
	}
	shared.base = base
	shared.admin, err = pgxpool.New(ctx, raw)
	if err != nil {
		return err
	}
	return buildTemplate(ctx)
}

// buildTemplate creates the template database for the current schema unless another test process
// already has. An advisory lock serializes the processes of one run; the template is built under a
// temporary name and renamed when complete, so a crash never leaves a half-built one behind.
func buildTemplate(ctx context.Context) error {
	hash, err := db.SchemaHash()
	if err != nil {
		return err
	}
	shared.tmpl = "hearth_tmpl_" + hash
	conn, err := shared.admin.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(7411)"); err != nil {
		return err
	}
	defer func() { _, _ = conn.Exec(context.Background(), "SELECT pg_advisory_unlock(7411)") }()
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", shared.tmpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	building := shared.tmpl + "_building"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return err
	}
	u := *shared.base
	u.Path = "/" + building
	d, err := db.Open(ctx, u.String(), db.Options{MaxConns: 4})
	if err != nil {
		return err
	}
	err = db.Migrate(ctx, d.Pool, Logger())
	d.Close()
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "ALTER DATABASE "+building+" RENAME TO "+shared.tmpl)
	return err
}

func stop() {
	if shared.admin != nil {
		shared.admin.Close()
	}
	if shared.cluster != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = shared.cluster.Stop(ctx)
		_ = os.RemoveAll(shared.dir)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
