package jobs

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/prebuilds"
)

// simPools makes n templates, each with a preset asking for one prebuild, and that prebuild,
// running with a ready agent: a deployment where reconciling changes nothing.
func simPools(t testing.TB, d *db.DB, n int) {
	t.Helper()
	ctx := context.Background()
	_, err := d.Pool.Exec(ctx, `
		WITH f AS (INSERT INTO files (hash, content_type, data) VALUES (sha256('x'), 'application/x-tar', 'x') RETURNING hash),
		v AS (INSERT INTO template_versions (file_hash, status, presets)
		      SELECT hash, 'succeeded', '[{"name":"p","default":false,"parameters":{},"prebuilds":{"instances":1}}]' FROM f, generate_series(1, $1) RETURNING id),
		t AS (INSERT INTO templates (name, active_version_id) SELECT 'sim-' || id, id FROM v RETURNING id, active_version_id)
		INSERT INTO workspaces (owner_id, template_id, name, preset)
		SELECT 'c42fdf75-3097-471c-8c33-fb52454d81c0', t.id, 'prebuild-' || t.id, 'p' FROM t`, n)
	require.NoError(t, err)
	_, err = d.Pool.Exec(ctx, `
		WITH b AS (INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status, completed_at)
		           SELECT w.id, 1, t.active_version_id, 'start', 'succeeded', now() FROM workspaces w JOIN templates t ON t.id = w.template_id RETURNING id),
		r AS (INSERT INTO workspace_resources (build_id, type, name) SELECT id, 'null_resource', 'dev' FROM b RETURNING id, build_id)
		INSERT INTO workspace_agents (resource_id, build_id, name, os, arch, token_hash, lifecycle_state)
		SELECT r.id, r.build_id, 'main', 'linux', 'amd64', sha256(r.id::text::bytea), 'ready' FROM r`)
	require.NoError(t, err)
}

// A pass over 1,000 presets whose pools are full changes nothing (target: at most 1 s of server CPU).
func BenchmarkReconcileFullPools(b *testing.B) {
	d := dbtest.New(b)
	simPools(b, d, 1000)
	created := 0
	w := &prebuildsWorker{db: d, pools: &prebuilds.Pools{}, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		cfg: PrebuildsConfig{Create: func(context.Context, db.Tx, uuid.UUID, uuid.UUID, string) error { created++; return nil }}}
	var before, after syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &before))
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		require.NoError(b, w.Work(context.Background(), nil))
	}
	b.StopTimer()
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &after))
	require.Zero(b, created, "nothing to make")
	pools, _ := w.pools.Get()
	require.Len(b, pools, 1000)
	require.Equal(b, 1, pools[0].Eligible)
	cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) / time.Duration(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/1000, "server-cpu-ms/pass")
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "wall-ms/pass")
}
