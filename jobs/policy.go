package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/schedule"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// PolicyEvery is how often unused workspaces are looked for (dormancy is counted in days, so a
// minute is exact enough), and missed policy jobs with them.
const PolicyEvery = time.Minute

// RetentionEvery is how often the retention job runs.
const RetentionEvery = time.Hour

// Retention says how long the retention job keeps what it cleans up; 0 keeps it forever.
type Retention struct {
	// BuildLogs: log lines of builds and imports, except a workspace's latest build's and a
	// template's active version's.
	BuildLogs time.Duration
	// ExpiredTokens: sessions and API tokens, counted from when they expired.
	ExpiredTokens time.Duration
	// Audit: audit log entries.
	Audit time.Duration
	// OrphanFiles: uploaded archives that no template version uses.
	OrphanFiles time.Duration
	// GoneWorkers: external provisioner workers not seen for this long (and running nothing).
	GoneWorkers time.Duration
}

// DefaultRetention is what the server keeps unless told otherwise.
var DefaultRetention = Retention{BuildLogs: 30 * 24 * time.Hour, ExpiredTokens: 7 * 24 * time.Hour, Audit: 365 * 24 * time.Hour,
	OrphanFiles: 24 * time.Hour, GoneWorkers: time.Hour}

// addPolicyWorkers registers the workers of templates' policies and of retention, and returns their
// periodic jobs.
func addPolicyWorkers(workers *river.Workers, cfg Config) []*river.PeriodicJob {
	p := &policyWorker{db: cfg.DB, build: cfg.Build, log: cfg.Logger}
	river.AddWorker(workers, p)
	river.AddWorker(workers, &dormantDeleteWorker{p: p})
	river.AddWorker(workers, &failureStopWorker{p: p})
	river.AddWorker(workers, &retentionWorker{db: cfg.DB, keep: cfg.Retention, log: cfg.Logger})
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(PolicyEvery), func() (river.JobArgs, *river.InsertOpts) {
			return jobargs.WorkspacePolicies{}, &river.InsertOpts{Queue: jobargs.QueueMaintenance, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(RetentionEvery), func() (river.JobArgs, *river.InsertOpts) {
			return jobargs.Retention{}, &river.InsertOpts{Queue: jobargs.QueueMaintenance, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
	}
}

// policyWorker makes workspaces unused for longer than their template allows dormant (stopping
// them), and is the safety net under the dormant-delete and failure-stop jobs: it does what they
// would have done for workspaces well past their time whose job is gone (or that became due because
// their template's policy changed).
type policyWorker struct {
	river.WorkerDefaults[jobargs.WorkspacePolicies]
	db    *db.DB
	build BuildFunc
	log   *slog.Logger
}

func (w *policyWorker) Work(ctx context.Context, _ *river.Job[jobargs.WorkspacePolicies]) error {
	inactive, err := w.db.ListInactiveWorkspaces(ctx)
	if err != nil {
		return err
	}
	for _, id := range inactive {
		if err := w.makeDormant(ctx, id); err != nil {
			w.log.Error("jobs: dormancy: marking a workspace dormant failed", "workspace", id, "error", err)
		}
	}
	dormant, err := w.db.ListDormantDue(ctx)
	if err != nil {
		return err
	}
	catchUp(ctx, w.db, w.log, jobargs.WorkspaceDormantDelete{}.Kind(), dormant, "a workspace dormant past its time to deletion has no job; deleting it",
		func(id uuid.UUID) error {
			_, err := w.deleteIfDue(ctx, id, nil)
			return err
		})
	failed, err := w.db.ListFailedDue(ctx)
	if err != nil {
		return err
	}
	builds := map[uuid.UUID]uuid.UUID{}
	ids := make([]uuid.UUID, len(failed))
	for i, f := range failed {
		ids[i], builds[f.ID] = f.ID, f.BuildID
	}
	catchUp(ctx, w.db, w.log, jobargs.WorkspaceFailureStop{}.Kind(), ids, "a workspace whose start failed past its template's failure TTL has no job; stopping it",
		func(id uuid.UUID) error { return w.stopFailed(ctx, id, builds[id]) })
	return nil
}

// makeDormant marks an unused workspace dormant under its row lock, after checking again that it is
// unused, and stops it if it runs (or its start failed). One with a build under way waits for the
// next round.
func (w *policyWorker) makeDormant(ctx context.Context, id uuid.UUID) error {
	return w.db.InTx(ctx, func(tx db.Tx) error {
		ws, err := tx.LockWorkspace(ctx, id)
		if err != nil {
			return db.Translate(err)
		}
		ov, err := tx.GetWorkspace(ctx, id)
		if err != nil {
			return err
		}
		threshold := time.Duration(ov.TemplateDormancyThresholdSeconds) * time.Second
		if ws.Deleted || ws.DormantAt != nil || threshold <= 0 || time.Since(ws.LastUsedAt) < threshold {
			return nil // used, or changed, since it was listed
		}
		switch ov.BuildStatus {
		case "pending", "running", "canceling":
			return nil
		}
		now := time.Now()
		w.log.Info("jobs: dormancy: the workspace is unused; making it dormant", "workspace", id, "last_used", ws.LastUsedAt)
		if err := schedule.MarkDormant(ctx, tx, river.ClientFromContext[pgx.Tx](ctx), id, &now); err != nil {
			return err
		}
		actx := audit.Start(authz.AsScheduler(ctx), audit.Request{Action: "workspace-dormant", Status: http.StatusOK})
		if err := audit.Record(actx, tx.Queries, audit.Resource{Type: "workspace", ID: id.String(), Name: ws.Name},
			map[string]audit.Change{"dormant_at": {New: now.UTC().Truncate(time.Second)}}); err != nil {
			return err
		}
		if ov.BuildTransition == "start" && (ov.BuildStatus == "succeeded" || ov.BuildStatus == "failed") {
			return w.build.build(ctx, tx, ws, "stop", "workspace-dormancy-stop")
		}
		return nil
	})
}

// deleteIfDue deletes a dormant workspace whose time to deletion has come, under its row lock, if it
// is still in the dormancy that was queued (dormantAt, Unix seconds; nil for any). A time still
// ahead is returned as wait, as is a short wait while another build is under way.
func (w *policyWorker) deleteIfDue(ctx context.Context, id uuid.UUID, dormantAt *int64) (wait time.Duration, err error) {
	err = w.db.InTx(ctx, func(tx db.Tx) error {
		ws, err := tx.LockWorkspace(ctx, id)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if ws.Deleted || ws.DormantAt == nil || (dormantAt != nil && ws.DormantAt.Unix() != *dormantAt) {
			return nil // made active since
		}
		ov, err := tx.GetWorkspace(ctx, id)
		if err != nil || ov.TemplateDormancyDeleteSeconds <= 0 {
			return err
		}
		if until := time.Until(ws.DormantAt.Add(time.Duration(ov.TemplateDormancyDeleteSeconds) * time.Second)); until > 100*time.Millisecond {
			wait = until
			return nil
		}
		switch ov.BuildStatus {
		case "pending", "running", "canceling":
			wait = 30 * time.Second
			return nil
		}
		w.log.Info("jobs: dormancy: deleting a workspace dormant since its template's limit", "workspace", id, "dormant_at", ws.DormantAt)
		return w.build.build(ctx, tx, ws, "delete", "workspace-dormancy-delete")
	})
	return wait, err
}

// stopFailed stops a workspace whose latest build is still the failed start build.
func (w *policyWorker) stopFailed(ctx context.Context, id, build uuid.UUID) error {
	return w.db.InTx(ctx, func(tx db.Tx) error {
		ws, err := tx.LockWorkspace(ctx, id)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		latest, err := tx.LatestBuildWithParameters(ctx, dbsqlc.LatestBuildWithParametersParams{WorkspaceID: id, Before: 1 << 30})
		if err != nil {
			return err
		}
		if ws.Deleted || latest.ID != build || latest.Transition != "start" || latest.Status != "failed" {
			return nil // built again since
		}
		w.log.Info("jobs: failure TTL: stopping a workspace whose start failed", "workspace", id, "build", build)
		return w.build.build(ctx, tx, ws, "stop", "workspace-failure-stop")
	})
}

type dormantDeleteWorker struct {
	river.WorkerDefaults[jobargs.WorkspaceDormantDelete]
	p *policyWorker
}

func (w *dormantDeleteWorker) Work(ctx context.Context, job *river.Job[jobargs.WorkspaceDormantDelete]) error {
	id, err := uuid.Parse(job.Args.WorkspaceID)
	if err != nil {
		return river.JobCancel(err)
	}
	wait, err := w.p.deleteIfDue(ctx, id, &job.Args.DormantAt)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

type failureStopWorker struct {
	river.WorkerDefaults[jobargs.WorkspaceFailureStop]
	p *policyWorker
}

func (w *failureStopWorker) Work(ctx context.Context, job *river.Job[jobargs.WorkspaceFailureStop]) error {
	id, err1 := uuid.Parse(job.Args.WorkspaceID)
	build, err2 := uuid.Parse(job.Args.BuildID)
	if err := errors.Join(err1, err2); err != nil {
		return river.JobCancel(err)
	}
	return w.p.stopFailed(ctx, id, build)
}

// pendingJob reports whether a workspace has a job of kind still to run.
func pendingJob(ctx context.Context, d *db.DB, kind string, id uuid.UUID) (bool, error) {
	var found bool
	err := d.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE kind = $1 AND args->>'workspace_id' = $2
		AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled'))`, kind, id.String()).Scan(&found)
	return found, err
}

// skipped records that the scheduler passed over a transition, in the workspace's history (the audit
// log, as system:scheduler) and the server's log.
func skipped(ctx context.Context, tx db.Tx, log *slog.Logger, ws dbsqlc.Workspace, action, why string) error {
	log.Info("jobs: "+action+": skipped, "+why, "workspace", ws.ID)
	ctx = audit.Start(authz.AsScheduler(ctx), audit.Request{Action: action})
	return audit.Skipped(ctx, tx.Queries, audit.Resource{Type: "workspace", ID: ws.ID.String(), Name: ws.Name}, why)
}

// workspaceState says in words what a latest build left a workspace as.
func workspaceState(transition, status string) string {
	switch status {
	case "pending", "running", "canceling":
		return "building (" + transition + ")"
	case "failed":
		return "failed (" + transition + ")"
	case "canceled":
		return "canceled (" + transition + ")"
	}
	return map[string]string{"start": "running", "stop": "stopped", "delete": "deleted"}[transition]
}

// retentionWorker deletes what is past its retention, a batch at a time, a bounded number of batches
// a run: a backlog is worked off over several runs in short transactions.
type retentionWorker struct {
	river.WorkerDefaults[jobargs.Retention]
	db   *db.DB
	keep Retention
	log  *slog.Logger
}

// retentionBatch and retentionBatches bound a run's deletes of each kind.
const (
	retentionBatch   = 5000
	retentionBatches = 20
)

func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[jobargs.Retention]) error {
	now := time.Now()
	steps := []struct {
		what string
		keep time.Duration
		del  func(ctx context.Context, before time.Time) (int64, error)
	}{
		{"build log lines", w.keep.BuildLogs, func(ctx context.Context, before time.Time) (int64, error) {
			return w.db.DeleteOldJobLogs(ctx, dbsqlc.DeleteOldJobLogsParams{Before: before, Batch: retentionBatch})
		}},
		{"expired sessions and tokens", w.keep.ExpiredTokens, func(ctx context.Context, before time.Time) (int64, error) {
			return w.db.DeleteExpiredAPIKeys(ctx, dbsqlc.DeleteExpiredAPIKeysParams{Before: before, Batch: retentionBatch})
		}},
		{"audit entries", w.keep.Audit, func(ctx context.Context, before time.Time) (int64, error) {
			return w.db.DeleteOldAuditEntries(ctx, dbsqlc.DeleteOldAuditEntriesParams{Before: before, Batch: retentionBatch})
		}},
		{"unused uploads", w.keep.OrphanFiles, func(ctx context.Context, before time.Time) (int64, error) {
			return w.db.DeleteOrphanFiles(ctx, dbsqlc.DeleteOrphanFilesParams{Before: before, Batch: retentionBatch})
		}},
		{"gone provisioner workers", w.keep.GoneWorkers, func(ctx context.Context, before time.Time) (int64, error) {
			return w.db.DeleteGoneProvisionerWorkers(ctx, dbsqlc.DeleteGoneProvisionerWorkersParams{Before: before, Batch: retentionBatch})
		}},
		// A sign-in bucket untouched for an hour is full again (it refills in a minute): forget it.
		{"idle sign-in limits", time.Hour, func(ctx context.Context, before time.Time) (int64, error) {
			return w.db.DeleteIdleSigninAttempts(ctx, before)
		}},
	}
	var errs []error
	for _, s := range steps {
		if s.keep <= 0 {
			continue
		}
		var total int64
		for range retentionBatches {
			n, err := s.del(ctx, now.Add(-s.keep))
			if err != nil {
				errs = append(errs, fmt.Errorf("jobs: retention: %s: %w", s.what, err))
				break
			}
			total += n
			if n < retentionBatch {
				break
			}
		}
		if total > 0 {
			w.log.Info("jobs: retention: deleted "+s.what, "count", total, "older_than", s.keep.String())
		}
	}
	return errors.Join(errs...)
}
