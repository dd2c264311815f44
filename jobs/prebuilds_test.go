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
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
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

// What a pass decides, pool by pool: a full pool is left alone; a failed prebuild is deleted and the
// preset waits before it builds again; one of an old version, or expired, is replaced; a preset that
// asks for more gets them, no more than the builds budget allows. It also counts each pool's claims.
func TestReconcilerPlansEachPool(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	simPools(t, d, 4)
	var ids []string
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT array_agg(w.id::text ORDER BY t.name) FROM workspaces w JOIN templates t ON t.id = w.template_id`).Scan(&ids))
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := d.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	// 0: full. 1: its prebuild failed. 2: its template moved to a new version. 3: asks for 3.
	exec(`UPDATE workspace_builds SET status = 'failed' WHERE workspace_id = $1`, ids[1])
	exec(`WITH v AS (INSERT INTO template_versions (file_hash, status, presets)
	                 SELECT file_hash, 'succeeded', presets FROM template_versions LIMIT 1 RETURNING id)
	      UPDATE templates SET active_version_id = v.id FROM v WHERE templates.id = (SELECT template_id FROM workspaces WHERE id = $1)`, ids[2])
	exec(`UPDATE template_versions SET presets = '[{"name":"p","default":false,"parameters":{},"prebuilds":{"instances":3}}]'
	      WHERE id = (SELECT active_version_id FROM templates WHERE id = (SELECT template_id FROM workspaces WHERE id = $1))`, ids[3])
	w := &prebuildsWorker{db: d, pools: &prebuilds.Pools{}, cfg: PrebuildsConfig{MaxBuilds: 10}}
	plan, pools, err := w.plan(ctx, time.Now())
	require.NoError(t, err)
	require.ElementsMatch(t, []uuid.UUID{uuid.MustParse(ids[1]), uuid.MustParse(ids[2])}, plan.remove)
	made := map[uuid.UUID]int{}
	for _, c := range plan.create {
		made[c.template]++
	}
	byTemplate := map[uuid.UUID]prebuilds.Pool{}
	for _, p := range pools {
		byTemplate[p.TemplateID] = p
	}
	template := func(i int) uuid.UUID {
		var id uuid.UUID
		require.NoError(t, d.Pool.QueryRow(ctx, `SELECT template_id FROM workspaces WHERE id = $1`, ids[i]).Scan(&id))
		return id
	}
	require.Equal(t, 1, byTemplate[template(0)].Eligible)
	require.Zero(t, made[template(0)], "a full pool is left alone")
	require.Zero(t, made[template(1)], "after a failure the preset waits")
	require.NotNil(t, byTemplate[template(1)].BackoffUntil)
	require.Equal(t, 1, made[template(2)], "the old version's prebuild is replaced")
	require.Equal(t, 2, made[template(3)], "two more for three")

	// Claims are counted per pool, those of workspaces deleted since too.
	exec(`WITH u AS (INSERT INTO users (username, email) VALUES ('ada', 'ada@example.com') RETURNING id)
	      INSERT INTO workspaces (owner_id, template_id, name, preset, claimed_at, deleted)
	      SELECT u.id, $1, n, 'p', now(), n = 'gone' FROM u, unnest(ARRAY['mine', 'gone']) n`, template(0))
	_, pools, err = w.plan(ctx, time.Now())
	require.NoError(t, err)
	for _, p := range pools {
		if p.TemplateID == template(0) {
			require.Equal(t, 2, p.Claimed)
		} else {
			require.Zero(t, p.Claimed)
		}
	}

	// A budget of two builds: the two deletions take it all.
	w.cfg.MaxBuilds = 2
	plan, _, err = w.plan(ctx, time.Now())
	require.NoError(t, err)
	require.Len(t, plan.remove, 2)
	require.Empty(t, plan.create)

	// Expired: older than the preset's TTL.
	exec(`UPDATE template_versions SET presets = '[{"name":"p","default":false,"parameters":{},"prebuilds":{"instances":1,"expiration_ttl_seconds":60}}]'
	      WHERE id = (SELECT active_version_id FROM templates WHERE id = (SELECT template_id FROM workspaces WHERE id = $1))`, ids[0])
	exec(`UPDATE workspaces SET created_at = now() - interval '2 minutes' WHERE id = $1`, ids[0])
	w.cfg.MaxBuilds = 10
	plan, _, err = w.plan(ctx, time.Now())
	require.NoError(t, err)
	require.Contains(t, plan.remove, uuid.MustParse(ids[0]))
}

// The leader's view reaches every replica: a pass publishes it in the database, where any
// replica's API reads it.
func TestReconcilerPublishesItsView(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	simPools(t, d, 3)
	pools, at, err := prebuilds.Load(ctx, d.Queries)
	require.NoError(t, err)
	require.Empty(t, pools, "nothing before the first pass")
	require.True(t, at.IsZero())
	w := &prebuildsWorker{db: d, pools: &prebuilds.Pools{}, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		cfg: PrebuildsConfig{Create: func(context.Context, db.Tx, uuid.UUID, uuid.UUID, string) error { return nil }}}
	require.NoError(t, w.Work(ctx, nil))
	pools, at, err = prebuilds.Load(ctx, d.Queries)
	require.NoError(t, err)
	require.False(t, at.IsZero())
	seen, _ := w.pools.Get()
	require.Len(t, pools, 3)
	require.Equal(t, seen, pools)
}

// A preset's scheduling block sets how many prebuilds it wants by time of day, in its time zone:
// the first schedule whose cron matches the minute wins, else prebuilds.instances.
func TestScheduledPrebuildInstances(t *testing.T) {
	t.Parallel()
	ps := dbsqlc.ListPrebuildPresetsRow{Instances: 1, Timezone: "Europe/Berlin",
		Schedule: []byte(`[{"cron":"* 8-17 * * 1-5","instances":3},{"cron":"* 8-17 * * 6","instances":2}]`)}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	require.Equal(t, 3, desired(ps, at("2026-12-07T07:30:00Z")), "Monday 08:30 in Berlin: working hours")
	require.Equal(t, 1, desired(ps, at("2026-12-07T06:59:00Z")), "Monday 07:59 in Berlin: before them")
	require.Equal(t, 1, desired(ps, at("2026-12-07T17:00:00Z")), "Monday 18:00 in Berlin: after them")
	require.Equal(t, 2, desired(ps, at("2026-12-12T10:00:00Z")), "Saturday: the second schedule")
	require.Equal(t, 1, desired(ps, at("2026-12-13T10:00:00Z")), "Sunday: none matches")
	ps.Timezone = ""
	require.Equal(t, 3, desired(ps, at("2026-12-07T17:30:00Z")), "no zone: UTC")
	ps.Schedule = []byte(`[{"cron":"not a cron","instances":9}]`)
	require.Equal(t, 1, desired(ps, at("2026-12-07T09:00:00Z")), "a cron that does not parse never matches")
	ps.Schedule = []byte(`[]`)
	require.Equal(t, 1, desired(ps, at("2026-12-07T09:00:00Z")))
}
