package jobs

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/api/workspace"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// The reconciler stops a workspace past its deadline whose autostop job is gone, leaves one whose job
// is still to run alone, and queues the next occurrence of an autostart whose job is gone.
func TestReconcilerCatchesLostScheduleJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	simWorkspaces(t, d, 3, "now() - interval '2 minutes'")
	var lost, waiting, autostart string
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT (array_agg(id::text ORDER BY name))[1], (array_agg(id::text ORDER BY name))[2], (array_agg(id::text ORDER BY name))[3] FROM workspaces`).Scan(&lost, &waiting, &autostart))
	_, err := d.Pool.Exec(ctx, `UPDATE workspaces SET deadline = NULL, autostart_schedule = '0 8 * * *', next_autostart_at = now() - interval '5 minutes' WHERE id = $1`, autostart)
	require.NoError(t, err)

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var queue *Client
	build := func(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error {
		return workspace.ScheduledBuild(workspace.Deps{DB: d, River: queue.Client, Logger: log})(ctx, tx, w, transition, action)
	}
	queue, err = New(Config{DB: d, Logger: log, Build: build})
	require.NoError(t, err)
	// The waiting workspace's job is scheduled for later (a server catching up would run it).
	_, err = queue.Insert(ctx, jobargs.WorkspaceAutostop{WorkspaceID: waiting, BuildID: "00000000-0000-4000-8000-000000000000"},
		&river.InsertOpts{Queue: jobargs.QueueLifecycle, ScheduledAt: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	require.NoError(t, queue.Start(ctx)) // the reconciler runs at start
	t.Cleanup(func() { _ = queue.Stop(context.Background()) })

	stops := func(id string) (n int) {
		require.NoError(t, d.Pool.QueryRow(ctx, `SELECT count(*) FROM workspace_builds WHERE workspace_id = $1 AND transition = 'stop'`, id).Scan(&n))
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for stops(lost) == 0 {
		require.True(t, time.Now().Before(deadline), "the workspace without its job was not stopped")
		time.Sleep(100 * time.Millisecond)
	}
	require.Zero(t, stops(waiting), "a workspace whose job is still to run is left to it")
	waitFor(t, "the missed autostart is not queued for its next time", func() bool {
		var next time.Time
		require.NoError(t, d.Pool.QueryRow(ctx, `SELECT next_autostart_at FROM workspaces WHERE id = $1`, autostart).Scan(&next))
		return next.After(time.Now())
	})
	var queued bool
	require.NoError(t, d.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = 'workspace_autostart' AND args->>'workspace_id' = $1 AND state = 'scheduled')`, autostart).Scan(&queued))
	require.True(t, queued)
}
