package db_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestMigrationsAreWellFormed(t *testing.T) {
	t.Parallel()
	ms, err := db.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
}

func TestParseMigrationsRejectsMistakes(t *testing.T) {
	t.Parallel()
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for name, fsys := range map[string]fstest.MapFS{
		"missing down": {"0001_a.up.sql": f("SELECT 1")},
		"gap":          {"0001_a.up.sql": f("SELECT 1"), "0001_a.down.sql": f("SELECT 1"), "0003_c.up.sql": f("SELECT 1"), "0003_c.down.sql": f("SELECT 1")},
		"two names":    {"0001_a.up.sql": f("SELECT 1"), "0001_b.down.sql": f("SELECT 1")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := db.ParseMigrations(fsys)
			require.Error(t, err)
		})
	}
}

// Replicas starting together run Migrate at once on an empty database: every migration is applied
// exactly once and all of them succeed.
func TestConcurrentMigrateOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	d, err := db.Open(context.Background(), url, db.Options{MaxConns: 10})
	require.NoError(t, err)
	defer d.Close()
	ctx := context.Background()
	// Start from nothing: revert Hearth's migrations and River's tables.
	ms, _ := db.Migrations()
	require.NoError(t, db.MigrateDown(ctx, d.Pool, len(ms)))
	_, err = d.Pool.Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
	require.NoError(t, err)

	var g errgroup.Group
	for range 4 {
		g.Go(func() error { return db.Migrate(ctx, d.Pool, dbtest.Logger()) })
	}
	require.NoError(t, g.Wait())
	v, err := db.SchemaVersion(ctx, d.Pool)
	require.NoError(t, err)
	require.Equal(t, len(ms), v)
	var rows int
	require.NoError(t, d.Pool.QueryRow(ctx, "SELECT count(*) FROM hearth_migrations").Scan(&rows))
	require.Equal(t, len(ms), rows)
}

func TestDownThenUpRestoresTheSchema(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	ms, _ := db.Migrations()
	require.NoError(t, db.MigrateDown(ctx, d.Pool, len(ms)))
	v, err := db.SchemaVersion(ctx, d.Pool)
	require.NoError(t, err)
	require.Zero(t, v)
	require.NoError(t, db.Migrate(ctx, d.Pool, dbtest.Logger()))
	v, err = db.SchemaVersion(ctx, d.Pool)
	require.NoError(t, err)
	require.Equal(t, len(ms), v)
	id, err := d.GetSiteConfig(ctx, "deployment_id")
	require.NoError(t, err)
	require.Len(t, id, 36)
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	_, err := d.Pool.Exec(ctx, "INSERT INTO hearth_migrations (version, name) VALUES (9999, 'from_the_future')")
	require.NoError(t, err)
	require.ErrorContains(t, db.Migrate(ctx, d.Pool, dbtest.Logger()), "upgrade hearth")
}

func TestInTxRollsBackOnError(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	err := d.InTx(ctx, func(tx db.Tx) error {
		require.NoError(t, tx.UpsertSiteConfig(ctx, dbsqlc.UpsertSiteConfigParams{Key: "k", Value: "v"}))
		return context.Canceled
	})
	require.ErrorIs(t, err, context.Canceled)
	_, err = d.GetSiteConfig(ctx, "k")
	require.ErrorIs(t, db.Translate(err), db.ErrNotFound)
}

func TestUniqueViolation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	_, err := d.Pool.Exec(context.Background(), "INSERT INTO site_config (key, value) VALUES ('deployment_id', 'x')")
	require.True(t, db.IsUniqueViolation(err))
	require.True(t, db.IsUniqueViolation(err, "site_config_pkey"))
	require.False(t, db.IsUniqueViolation(err, "other"))
}

func TestOpenDoesNotEchoTheURL(t *testing.T) {
	t.Parallel()
	_, err := db.Open(context.Background(), "postgres://u:s3cret@[bad", db.Options{})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}

// BenchmarkNewDatabase measures what a test pays for its own migrated database.
func BenchmarkNewDatabase(b *testing.B) {
	dbtest.NewURL(b) // build the template outside the timed loop
	b.ResetTimer()
	for range b.N {
		dbtest.NewURL(b)
	}
}
