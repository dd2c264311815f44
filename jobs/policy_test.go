package jobs

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/api/workspace"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// startQueue starts a River client on d whose jobs start builds the way the server's do.
func startQueue(t *testing.T, d *db.DB, keep Retention) *Client {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var queue *Client
	build := func(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error {
		return workspace.ScheduledBuild(workspace.Deps{DB: d, River: queue.Client, Logger: log})(ctx, tx, w, transition, action)
	}
	queue, err := New(Config{DB: d, Logger: log, Build: build, Retention: keep})
	require.NoError(t, err)
	require.NoError(t, queue.Start(context.Background()))
	t.Cleanup(func() { _ = queue.Stop(context.Background()) })
	return queue
}

// waitFor polls cond until it holds, or fails the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), what)
		time.Sleep(50 * time.Millisecond)
	}
}

// Templates' policies: an unused workspace becomes dormant (stopped, its deletion queued, unable to
// start), one dormant past the time to deletion is deleted, one whose start failed long enough ago is
// stopped; recent ones are left alone. Each transition is audited as system:scheduler.
func TestTemplatePolicies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	simWorkspaces(t, d, 5, "NULL")
	ids := map[string]string{}
	rows, err := d.Pool.Query(ctx, `SELECT name, id::text FROM workspaces`)
	require.NoError(t, err)
	for rows.Next() {
		var name, id string
		require.NoError(t, rows.Scan(&name, &id))
		ids[name] = id
	}
	require.NoError(t, rows.Err())
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := d.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	exec(`UPDATE templates SET dormancy_threshold_seconds = 86400, dormancy_delete_seconds = 3600, failure_ttl_seconds = 3600`)
	exec(`UPDATE workspaces SET last_used_at = now() - interval '2 days' WHERE name = 'ws-1'`) // unused: becomes dormant
	// ws-2 was used just now. ws-3 is stopped and dormant for longer than the time to deletion.
	exec(`UPDATE workspaces SET dormant_at = now() - interval '3 hours' WHERE name = 'ws-3'`)
	exec(`INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status, completed_at)
	      SELECT id, 2, (SELECT active_version_id FROM templates), 'stop', 'succeeded', now() - interval '3 hours' FROM workspaces WHERE name = 'ws-3'`)
	// ws-4's start failed two hours ago, ws-5's ten minutes ago.
	exec(`UPDATE workspace_builds SET status = 'failed', completed_at = now() - interval '2 hours' WHERE workspace_id = $1`, ids["ws-4"])
	exec(`UPDATE workspace_builds SET status = 'failed', completed_at = now() - interval '10 minutes' WHERE workspace_id = $1`, ids["ws-5"])

	startQueue(t, d, Retention{}) // the policy job runs at start
	latest := func(name string) (transition, action string) {
		err := d.Pool.QueryRow(ctx, `SELECT b.transition, coalesce((SELECT a.action FROM audit_log a WHERE a.resource_id = b.id::text), '')
			FROM workspace_builds b WHERE b.workspace_id = $1 ORDER BY b.number DESC LIMIT 1`, ids[name]).Scan(&transition, &action)
		require.NoError(t, err)
		return transition, action
	}
	waitFor(t, "the policies were not applied", func() bool {
		a, _ := latest("ws-1")
		b, _ := latest("ws-3")
		c, _ := latest("ws-4")
		return a == "stop" && b == "delete" && c == "stop"
	})
	for name, want := range map[string]string{"ws-1": "workspace-dormancy-stop", "ws-3": "workspace-dormancy-delete", "ws-4": "workspace-failure-stop"} {
		_, action := latest(name)
		require.Equal(t, want, action, name)
	}
	for _, name := range []string{"ws-2", "ws-5"} {
		transition, _ := latest(name)
		require.Equal(t, "start", transition, name+" is left alone")
	}
	var dormant bool
	var deleteAt time.Time
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT w.dormant_at IS NOT NULL, j.scheduled_at FROM workspaces w
		JOIN river_job j ON j.kind = 'workspace_dormant_delete' AND j.args->>'workspace_id' = w.id::text WHERE w.id = $1`, ids["ws-1"]).Scan(&dormant, &deleteAt))
	require.True(t, dormant)
	require.WithinDuration(t, time.Now().Add(time.Hour), deleteAt, time.Minute, "its deletion is queued at the template's time")
	var audited int
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'workspace-dormant' AND resource_id = $1 AND username = 'system:scheduler'`, ids["ws-1"]).Scan(&audited))
	require.Equal(t, 1, audited)

	// A dormant workspace cannot start, not even for its schedule.
	exec(`UPDATE workspace_builds SET status = 'succeeded' WHERE workspace_id = $1 AND transition = 'stop'`, ids["ws-1"])
	err = d.InTx(ctx, func(tx db.Tx) error {
		ws, err := tx.LockWorkspace(ctx, mustUUID(t, ids["ws-1"]))
		require.NoError(t, err)
		return workspace.ScheduledBuild(workspace.Deps{DB: d, Logger: slog.Default()})(ctx, tx, ws, "start", "workspace-autostart")
	})
	var se huma.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 409, se.GetStatus())
	require.ErrorContains(t, err, "dormant")

	// Its deletion job, once due, deletes it; one for an earlier dormancy does nothing.
	exec(`UPDATE templates SET dormancy_delete_seconds = 1`)
	exec(`UPDATE river_job SET scheduled_at = now() WHERE kind = 'workspace_dormant_delete' AND args->>'workspace_id' = $1`, ids["ws-1"])
	waitFor(t, "the dormant workspace's deletion job did not delete it", func() bool {
		transition, _ := latest("ws-1")
		return transition == "delete"
	})
}

// Retention deletes what is older than it keeps, a batch at a time, and leaves the rest: a
// workspace's latest build's logs stay however old.
func TestRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	simWorkspaces(t, d, 1, "NULL")
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := d.Pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	// Job 1 was an old build of the workspace, job 2 is its latest build's.
	exec(`UPDATE workspace_builds SET number = 2, job_id = 2`)
	exec(`INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status, job_id)
	      SELECT workspace_id, 1, template_version_id, 'start', 'succeeded', 1 FROM workspace_builds`)
	exec(`INSERT INTO provisioner_job_logs (job_id, time, stage, level, output)
	      SELECT j, now() - make_interval(days => age), 'apply', 'info', 'line' FROM (VALUES (1, 40), (1, 1), (2, 40)) v(j, age), generate_series(1, 6000)`)
	exec(`INSERT INTO api_keys (id, user_id, kind, secret_hash, expires_at)
	      SELECT k, (SELECT id FROM users WHERE username = 'ada'), 'session', '\x00', now() - make_interval(days => age) FROM (VALUES ('old', 10), ('recent', 1), ('live', -1)) v(k, age)`)
	exec(`INSERT INTO audit_log (time, action, resource_type, resource_id, status, result) VALUES
	      (now() - interval '400 days', 'x', 't', 'old', 200, 'success'), (now(), 'x', 't', 'new', 200, 'success')`)
	exec(`INSERT INTO files (hash, content_type, data, created_at) VALUES (sha256('orphan'), 'application/x-tar', 'o', now() - interval '2 days'),
	      (sha256('fresh'), 'application/x-tar', 'f', now())`)

	w := &retentionWorker{db: d, keep: DefaultRetention, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))}
	require.NoError(t, w.Work(ctx, &river.Job[jobargs.Retention]{}))
	count := func(sql string) (n int) {
		require.NoError(t, d.Pool.QueryRow(ctx, sql).Scan(&n))
		return n
	}
	require.Equal(t, 6000, count(`SELECT count(*) FROM provisioner_job_logs WHERE job_id = 1`), "an old build's old lines go (over two batches), its recent ones stay")
	require.Equal(t, 6000, count(`SELECT count(*) FROM provisioner_job_logs WHERE job_id = 2`), "the latest build's lines stay")
	require.Equal(t, 0, count(`SELECT count(*) FROM provisioner_job_logs WHERE job_id = 1 AND time < now() - interval '30 days'`))
	require.Equal(t, 2, count(`SELECT count(*) FROM api_keys`), "a key that expired 10 days ago goes")
	require.Equal(t, 0, count(`SELECT count(*) FROM api_keys WHERE id = 'old'`))
	require.Equal(t, 1, count(`SELECT count(*) FROM audit_log`))
	require.Equal(t, 0, count(`SELECT count(*) FROM audit_log WHERE resource_id = 'old'`))
	require.Equal(t, 2, count(`SELECT count(*) FROM files`), "the used upload and the fresh one stay")
	require.Equal(t, 0, count(`SELECT count(*) FROM files WHERE hash = sha256('orphan')`))

	// Nothing is deleted when retention is off.
	exec(`INSERT INTO audit_log (time, action, resource_type, resource_id, status, result) VALUES (now() - interval '400 days', 'x', 't', 'old', 200, 'success')`)
	off := &retentionWorker{db: d, log: w.log}
	require.NoError(t, off.Work(ctx, &river.Job[jobargs.Retention]{}))
	require.Equal(t, 2, count(`SELECT count(*) FROM audit_log`))
}

// Two replicas, each with its River client on the same database, never both stop a workspace: its
// autostop job is unique, so a second insert of it is a no-op, and only one client works it.
func TestTwoReplicasStopEachWorkspaceOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	const n = 20
	simWorkspaces(t, d, n, "now() + interval '1 second'")
	a, b := startQueue(t, d, Retention{}), startQueue(t, d, Retention{})
	rows, err := d.Pool.Query(ctx, `SELECT w.id::text, b.id::text, w.deadline FROM workspaces w JOIN workspace_builds b ON b.workspace_id = w.id`)
	require.NoError(t, err)
	var params []river.InsertManyParams
	for rows.Next() {
		var ws, build string
		var at time.Time
		require.NoError(t, rows.Scan(&ws, &build, &at))
		params = append(params, river.InsertManyParams{Args: jobargs.WorkspaceAutostop{WorkspaceID: ws, BuildID: build},
			InsertOpts: &river.InsertOpts{Queue: jobargs.QueueLifecycle, ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByArgs: true}}})
	}
	require.NoError(t, rows.Err())
	// Both replicas enqueue every transition, as two replicas completing the same start could try to.
	for _, q := range []*Client{a, b} {
		_, err := q.InsertMany(ctx, params)
		require.NoError(t, err)
	}
	count := func(sql string) (c int) {
		require.NoError(t, d.Pool.QueryRow(ctx, sql).Scan(&c))
		return c
	}
	require.Equal(t, n, count(`SELECT count(*) FROM river_job WHERE kind = 'workspace_autostop'`), "one job per transition")
	waitFor(t, "not every workspace was stopped", func() bool {
		return count(`SELECT count(*) FROM workspace_builds WHERE transition = 'stop'`) >= n
	})
	waitFor(t, "the autostop jobs did not finish", func() bool {
		return count(`SELECT count(*) FROM river_job WHERE kind = 'workspace_autostop' AND state <> 'completed'`) == 0
	})
	require.Equal(t, n, count(`SELECT count(*) FROM workspace_builds WHERE transition = 'stop'`), "exactly one stop build per workspace")
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	require.NoError(t, err)
	return id
}
