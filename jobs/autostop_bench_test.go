package jobs

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/api/workspace"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// BenchmarkAutostopAtScale measures how late stop builds are enqueued when many workspaces reach
// their deadlines within the same minute: running workspaces (rows made in SQL, no Terraform) get
// deadlines spread over one minute starting 10 s from now and their autostop jobs; the control plane's
// River client then works them with the real stop-build path. Reported: deadline → stop build lag.
//
//	go test ./jobs -run '^$' -bench AutostopAtScale -benchtime 1x        (HEARTH_BENCH_WORKSPACES=10000 by default)
func BenchmarkAutostopAtScale(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("HEARTH_BENCH_WORKSPACES")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		d := dbtest.New(b)
		simWorkspaces(b, d, n, "now() + interval '10 seconds' + random() * interval '60 seconds'")
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		var queue *Client
		build := func(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error {
			return workspace.ScheduledBuild(workspace.Deps{DB: d, River: queue.Client, Logger: log})(ctx, tx, w, transition, action)
		}
		var err error
		queue, err = New(Config{DB: d, Logger: log, Build: build})
		require.NoError(b, err)
		rows, err := d.Pool.Query(ctx, `SELECT w.id, b.id, w.deadline FROM workspaces w JOIN workspace_builds b ON b.workspace_id = w.id`)
		require.NoError(b, err)
		var params []river.InsertManyParams
		for rows.Next() {
			var ws, build uuid.UUID
			var deadline time.Time
			require.NoError(b, rows.Scan(&ws, &build, &deadline))
			params = append(params, river.InsertManyParams{
				Args:       jobargs.WorkspaceAutostop{WorkspaceID: ws.String(), BuildID: build.String()},
				InsertOpts: &river.InsertOpts{Queue: jobargs.QueueLifecycle, ScheduledAt: deadline, MaxAttempts: 10}})
		}
		require.NoError(b, rows.Err())
		require.NoError(b, pgx.BeginFunc(ctx, d.Pool, func(tx pgx.Tx) error {
			_, err := queue.InsertManyFastTx(ctx, tx, params)
			return err
		}))

		b.StartTimer()
		require.NoError(b, queue.Start(ctx))
		deadline := time.Now().Add(3 * time.Minute)
		for {
			var stopped int
			require.NoError(b, d.Pool.QueryRow(ctx, `SELECT count(*) FROM workspace_builds WHERE transition = 'stop'`).Scan(&stopped))
			if stopped == n {
				break
			}
			require.True(b, time.Now().Before(deadline), "%d of %d stopped after 3 minutes", stopped, n)
			time.Sleep(500 * time.Millisecond)
		}
		b.StopTimer()
		require.NoError(b, queue.Stop(ctx))
		var lags []float64
		rows, err = d.Pool.Query(ctx, `SELECT extract(epoch FROM b.created_at - w.deadline) FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id WHERE b.transition = 'stop'`)
		require.NoError(b, err)
		for rows.Next() {
			var lag float64
			require.NoError(b, rows.Scan(&lag))
			lags = append(lags, lag)
		}
		require.NoError(b, rows.Err())
		sort.Float64s(lags)
		b.ReportMetric(lags[len(lags)/2]*1000, "p50-lag-ms")
		b.ReportMetric(lags[len(lags)*99/100]*1000, "p99-lag-ms")
		b.ReportMetric(lags[len(lags)-1]*1000, "max-lag-ms")
		b.ReportMetric(lags[0]*1000, "min-lag-ms")
	}
}

// simWorkspaces makes n running workspaces in SQL (a user, a template, a succeeded start build each;
// no Terraform) with their deadline set by the SQL expression deadline.
func simWorkspaces(t testing.TB, d *db.DB, n int, deadline string) {
	t.Helper()
	ctx := context.Background()
	_, err := d.Pool.Exec(ctx, `
		WITH u AS (INSERT INTO users (username, email) VALUES ('ada', 'ada@example.com') RETURNING id),
		f AS (INSERT INTO files (hash, content_type, data) VALUES (sha256('x'), 'application/x-tar', 'x') RETURNING hash),
		v AS (INSERT INTO template_versions (file_hash, status) SELECT hash, 'succeeded' FROM f RETURNING id),
		t AS (INSERT INTO templates (name, active_version_id) SELECT 'sim', id FROM v RETURNING id, active_version_id),
		w AS (INSERT INTO workspaces (owner_id, template_id, name, deadline)
		      SELECT u.id, t.id, 'ws-' || g, `+deadline+`
		      FROM u, t, generate_series(1, $1) g RETURNING id)
		INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, status, completed_at)
		SELECT w.id, 1, t.active_version_id, 'start', 'succeeded', now() FROM w, t`, n)
	require.NoError(t, err)
	// A statement's parts do not see each other's rows: the version joins its template here.
	_, err = d.Pool.Exec(ctx, `UPDATE template_versions v SET template_id = t.id FROM templates t WHERE t.active_version_id = v.id`)
	require.NoError(t, err)
}
