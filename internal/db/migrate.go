package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/hearthdev/hearth/migrations"
)

// migrateLockKey is the advisory lock that serializes migrations across replicas ("hearth-mi").
const migrateLockKey int64 = 0x6865617274682d6d

// Migration is one of Hearth's schema migrations.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

var migrationFile = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$`)

// Migrations lists Hearth's embedded migrations in order.
func Migrations() ([]Migration, error) {
	return parseMigrations(migrations.FS)
}

func parseMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		m := migrationFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		mig := byVersion[v]
		if mig == nil {
			mig = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mig
		}
		if mig.Name != m[2] {
			return nil, fmt.Errorf("migrations: version %04d has two names (%s, %s)", v, mig.Name, m[2])
		}
		if m[3] == "up" {
			mig.Up = string(body)
		} else {
			mig.Down = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migrations: %04d_%s needs both an up and a down file", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: expected version %04d, found %04d: versions must be consecutive", i+1, m.Version)
		}
	}
	return out, nil
}

// SchemaHash identifies the complete schema (Hearth's migrations and River's), so test databases
// built from one set of migrations are never reused for another.
func SchemaHash() (string, error) {
	ms, err := Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d\x00%s\x00%s\x00", m.Version, m.Up, m.Down)
	}
	rm, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "", fmt.Errorf("migrations: %w", err)
	}
	for _, m := range rm.AllVersions() {
		fmt.Fprintf(h, "river%d\x00%s\x00", m.Version, m.SQLUp)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Migrate brings the schema up to date: River's migrations (each in its own transaction, as some
// add enum values that must commit before use), then Hearth's in one transaction. A session advisory
// lock held throughout makes replicas that start together apply each migration exactly once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLockKey)
	}()

	rm, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger.With("component", "river")})
	if err != nil {
		return fmt.Errorf("migrate: river: %w", err)
	}
	if _, err := rm.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate: river: %w", err)
	}

	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		applied, err := appliedVersion(ctx, tx)
		if err != nil {
			return err
		}
		if applied > len(ms) {
			return fmt.Errorf("migrate: the database is at schema version %d, newer than this hearth binary knows (%d): upgrade hearth", applied, len(ms))
		}
		for _, m := range ms[applied:] {
			if _, err := tx.Exec(ctx, m.Up); err != nil {
				return fmt.Errorf("migrate: %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO hearth_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
				return fmt.Errorf("migrate: record %04d: %w", m.Version, err)
			}
			logger.InfoContext(ctx, "applied migration", "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// MigrateDown reverts Hearth's newest steps migrations (River's schema is left alone).
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, steps int) error {
	ms, err := Migrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		applied, err := appliedVersion(ctx, tx)
		if err != nil {
			return err
		}
		for v := applied; v > 0 && v > applied-steps; v-- {
			m := ms[v-1]
			if _, err := tx.Exec(ctx, m.Down); err != nil {
				return fmt.Errorf("migrate: down %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, "DELETE FROM hearth_migrations WHERE version = $1", m.Version); err != nil {
				return fmt.Errorf("migrate: unrecord %04d: %w", m.Version, err)
			}
		}
		return nil
	})
}

// SchemaVersion is the newest applied Hearth migration (0 when none is).
func SchemaVersion(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM hearth_migrations").Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func appliedVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS hearth_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("migrate: bookkeeping table: %w", err)
	}
	return SchemaVersion(ctx, tx)
}
