// Package jobs builds the control plane's River client and holds the workers of the jobs it runs
// itself (lifecycle and maintenance); provisioner jobs are claimed by provisioner workers instead.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/prebuilds"
	"github.com/hearthdev/hearth/internal/provisioning"
	"github.com/hearthdev/hearth/internal/riverclaim"
	"github.com/hearthdev/hearth/internal/schedule"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// Client is the control plane's River client, with the state the health check reads.
type Client struct {
	*river.Client[pgx.Tx]
	db      *db.DB
	started time.Time
	running atomic.Bool
}

// Config configures the client.
type Config struct {
	DB     *db.DB
	Logger *slog.Logger
	// Tickets, when set, has its signing key rotated every KeyRotationAge.
	Tickets KeyRotator
	// UnmatchedAfter is how long a provisioner job may wait with no worker that takes it before
	// that is logged (default a minute).
	UnmatchedAfter time.Duration
	// Build starts a build of a locked workspace (start, stop or delete) on behalf of its schedule or
	// its template's policies, audited as action (api/workspace owns builds); without it, the jobs
	// that change workspaces fail.
	Build BuildFunc
	// Retention says how long what the maintenance jobs clean up is kept.
	Retention Retention
	// Prebuilds makes and deletes prebuilt workspaces; Pools receives the reconciler's view.
	Prebuilds PrebuildsConfig
	Pools     *prebuilds.Pools
}

// BuildFunc starts a build of a locked workspace for the scheduler.
type BuildFunc func(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error

// build starts one, or says none can be started.
func (f BuildFunc) build(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, transition, action string) error {
	if f == nil {
		return errors.New("jobs: no way to start workspace builds configured")
	}
	return f(ctx, tx, w, transition, action)
}

// HeartbeatInterval is how often the queue heartbeat job runs; the health check calls the queue
// stalled when the last one is older than three intervals.
const HeartbeatInterval = 30 * time.Second

// New builds the River client that works the control plane's queues.
func New(cfg Config) (*Client, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &heartbeatWorker{db: cfg.DB})
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(HeartbeatInterval), func() (river.JobArgs, *river.InsertOpts) {
			return jobargs.QueueHeartbeat{}, &river.InsertOpts{Queue: jobargs.QueueMaintenance, MaxAttempts: 1}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
	}
	// Provisioner jobs are claimed through the API, never worked here; their queues are in no client's
	// Queues. A worker is still registered for their kinds, because River's rescuer discards stuck
	// jobs of kinds it does not know instead of retrying them.
	river.AddWorker(workers, &provisionerKindWorker[jobargs.TemplateVersionImport]{})
	river.AddWorker(workers, &provisionerKindWorker[jobargs.WorkspaceBuild]{})
	claimer := riverclaim.New(cfg.DB.Pool, "hearth-server")
	if cfg.UnmatchedAfter <= 0 {
		cfg.UnmatchedAfter = time.Minute
	}
	autostop := &autostopWorker{db: cfg.DB, build: cfg.Build, log: cfg.Logger}
	river.AddWorker(workers, autostop)
	river.AddWorker(workers, &reconcileWorker{db: cfg.DB, autostop: autostop, log: cfg.Logger})
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(ReconcileEvery), func() (river.JobArgs, *river.InsertOpts) {
		return jobargs.ReconcileSchedules{}, &river.InsertOpts{Queue: jobargs.QueueLifecycle, MaxAttempts: 1}
	}, &river.PeriodicJobOpts{RunOnStart: true}))
	river.AddWorker(workers, &autostartWorker{db: cfg.DB, build: cfg.Build, log: cfg.Logger})
	if cfg.Pools == nil {
		cfg.Pools = &prebuilds.Pools{}
	}
	every := cfg.Prebuilds.Every
	if every <= 0 {
		every = PrebuildsEvery
	}
	river.AddWorker(workers, &prebuildsWorker{db: cfg.DB, cfg: cfg.Prebuilds, build: cfg.Build, pools: cfg.Pools, log: cfg.Logger})
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return jobargs.ReconcilePrebuilds{}, &river.InsertOpts{Queue: jobargs.QueueLifecycle, MaxAttempts: 1}
	}, &river.PeriodicJobOpts{RunOnStart: true}))
	periodic = append(periodic, addPolicyWorkers(workers, cfg)...)
	river.AddWorker(workers, &reapWorker{db: cfg.DB, claimer: claimer, log: cfg.Logger, after: cfg.UnmatchedAfter, warned: map[int64]bool{}})
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(ReapEvery), func() (river.JobArgs, *river.InsertOpts) {
		return jobargs.ReapProvisionerLeases{}, &river.InsertOpts{Queue: jobargs.QueueMaintenance, MaxAttempts: 1}
	}, &river.PeriodicJobOpts{RunOnStart: true}))
	if cfg.Tickets != nil {
		river.AddWorker(workers, &rotateKeysWorker{keys: cfg.Tickets})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return jobargs.RotateSigningKeys{}, &river.InsertOpts{Queue: jobargs.QueueMaintenance, MaxAttempts: 3}
		}, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	rc, err := river.NewClient(riverpgxv5.New(cfg.DB.Pool), &river.Config{
		Logger: cfg.Logger.With("component", "river"),
		Queues: map[string]river.QueueConfig{
			jobargs.QueueLifecycle:   {MaxWorkers: 20},
			jobargs.QueueMaintenance: {MaxWorkers: 2},
		},
		Workers:      workers,
		PeriodicJobs: periodic,
		// Above the longest a provisioner job may run with a live lease: the lease reaper, not the
		// rescuer, handles lost workers; the rescuer is the last resort.
		RescueStuckJobsAfter: MaxProvisionerJob + time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	return &Client{Client: rc, db: cfg.DB, started: time.Now()}, nil
}

// Start starts working jobs.
func (c *Client) Start(ctx context.Context) error {
	if err := c.Client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	c.running.Store(true)
	return nil
}

// Stop stops fetching new jobs and waits for running ones to finish, or for ctx to end.
func (c *Client) Stop(ctx context.Context) error {
	c.running.Store(false)
	return c.Client.Stop(ctx)
}

// Healthy reports whether this replica's client is running and the deployment's queue works jobs:
// the periodic heartbeat job (run by whichever replica leads) must have run recently.
func (c *Client) Healthy(ctx context.Context) error {
	if !c.running.Load() {
		return errors.New("river client is not running")
	}
	select {
	case <-c.Stopped():
		return errors.New("river client has stopped")
	default:
	}
	last, err := c.db.GetSiteConfig(ctx, heartbeatKey)
	if err != nil && !errors.Is(db.Translate(err), db.ErrNotFound) {
		return fmt.Errorf("queue heartbeat: %w", err)
	}
	at, _ := time.Parse(time.RFC3339Nano, last)
	if since := time.Since(at); since > 3*HeartbeatInterval && time.Since(c.started) > 3*HeartbeatInterval {
		return fmt.Errorf("no job has been worked for %s: the queue is stalled", since.Round(time.Second))
	}
	return nil
}

const heartbeatKey = "queue_heartbeat_at"

// heartbeatWorker records when the queue last worked a job.
type heartbeatWorker struct {
	river.WorkerDefaults[jobargs.QueueHeartbeat]
	db *db.DB
}

func (w *heartbeatWorker) Work(ctx context.Context, _ *river.Job[jobargs.QueueHeartbeat]) error {
	return w.db.UpsertSiteConfig(ctx, dbsqlc.UpsertSiteConfigParams{Key: heartbeatKey, Value: time.Now().UTC().Format(time.RFC3339Nano)})
}

// SchemaVersion is the newest applied River migration.
func (c *Client) SchemaVersion(ctx context.Context) (int, error) {
	m, err := rivermigrate.New(riverpgxv5.New(c.db.Pool), nil)
	if err != nil {
		return 0, err
	}
	vs, err := m.ExistingVersions(ctx)
	if err != nil {
		return 0, err
	}
	if len(vs) == 0 {
		return 0, nil
	}
	return vs[len(vs)-1].Version, nil
}

// KeyRotationAge is how long a ticket signing key signs before the maintenance queue rotates it.
const KeyRotationAge = 30 * 24 * time.Hour

// KeyRotator is the ticket signer, as the rotation job sees it.
type KeyRotator interface {
	CurrentKeyAge(ctx context.Context) (time.Duration, error)
	Rotate(ctx context.Context) error
}

// rotateKeysWorker rotates the ticket signing key once it is KeyRotationAge old. It runs hourly, so a
// rotation happens within an hour of the key's age, on whichever replica works the job.
type rotateKeysWorker struct {
	river.WorkerDefaults[jobargs.RotateSigningKeys]
	keys KeyRotator
}

func (w *rotateKeysWorker) Work(ctx context.Context, _ *river.Job[jobargs.RotateSigningKeys]) error {
	age, err := w.keys.CurrentKeyAge(ctx)
	if err != nil || age < KeyRotationAge {
		return err
	}
	return w.keys.Rotate(ctx)
}

// MaxProvisionerJob is the longest a provisioner job may run.
const MaxProvisionerJob = 2 * time.Hour

// ReapEvery is how often expired provisioner leases are looked for; a silent worker's job ends within
// the lease time plus this.
const ReapEvery = 5 * time.Second

type provisionerKindWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
}

func (w *provisionerKindWorker[T]) Work(context.Context, *river.Job[T]) error {
	return errors.New("provisioner jobs are run by provisioner workers, not by the server's River client")
}

// reapWorker ends the jobs of silent workers, and reports jobs no worker takes.
type reapWorker struct {
	river.WorkerDefaults[jobargs.ReapProvisionerLeases]
	db      *db.DB
	claimer *riverclaim.Claimer
	log     *slog.Logger
	after   time.Duration
	mu      sync.Mutex
	warned  map[int64]bool
}

func (w *reapWorker) Work(ctx context.Context, _ *river.Job[jobargs.ReapProvisionerLeases]) error {
	if _, err := provisioning.ReapLeases(ctx, w.db, w.claimer, river.ClientFromContext[pgx.Tx](ctx), w.log); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return provisioning.WarnUnmatched(ctx, w.db, w.log, w.after, w.warned)
}

// autostopWorker stops a workspace at its deadline, re-checking everything under the workspace's
// row lock: a job whose start build is no longer the latest succeeded one does nothing, and one that
// runs before a deadline that moved later snoozes until it.
type autostopWorker struct {
	river.WorkerDefaults[jobargs.WorkspaceAutostop]
	db    *db.DB
	build BuildFunc
	log   *slog.Logger
}

func (w *autostopWorker) Work(ctx context.Context, job *river.Job[jobargs.WorkspaceAutostop]) error {
	id, err1 := uuid.Parse(job.Args.WorkspaceID)
	build, err2 := uuid.Parse(job.Args.BuildID)
	if err := errors.Join(err1, err2); err != nil {
		return river.JobCancel(err)
	}
	wait, err := w.stopIfDue(ctx, id, &build)
	if err != nil {
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}
	return nil
}

// stopIfDue stops a workspace whose deadline has come, under its row lock, if its latest build is a
// succeeded start (build, when given: that one). A deadline still ahead is returned as wait.
func (w *autostopWorker) stopIfDue(ctx context.Context, id uuid.UUID, build *uuid.UUID) (wait time.Duration, err error) {
	err = w.db.InTx(ctx, func(tx db.Tx) error {
		ws, err := tx.LockWorkspace(ctx, id)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if ws.Deleted || ws.Deadline == nil {
			return nil
		}
		latest, err := tx.LatestBuildWithParameters(ctx, dbsqlc.LatestBuildWithParametersParams{WorkspaceID: id, Before: 1 << 30})
		if err != nil {
			return err
		}
		if (build != nil && latest.ID != *build) || latest.Transition != "start" || latest.Status != "succeeded" {
			return nil // stopped, restarted or failed since: this deadline is not the workspace's any more
		}
		if until := time.Until(*ws.Deadline); until > 100*time.Millisecond {
			wait = until
			return nil
		}
		w.log.Info("jobs: autostop: the workspace reached its deadline", "workspace", id, "deadline", ws.Deadline)
		return w.build.build(ctx, tx, ws, "stop", "workspace-autostop")
	})
	return wait, err
}

// ReconcileEvery is how often the reconciler looks for schedules whose jobs went missing.
const ReconcileEvery = time.Minute

// reconcileWorker is the safety net under the schedule jobs (a periodic job, so the leader runs it):
// a running workspace more than a minute past its deadline is stopped, and an autostart whose
// occurrence passed more than a minute ago without its job is queued again for its next time.
// Jobs survive restarts; this catches ones lost some other way (deleted, discarded after retries).
type reconcileWorker struct {
	river.WorkerDefaults[jobargs.ReconcileSchedules]
	db       *db.DB
	autostop *autostopWorker
	log      *slog.Logger
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[jobargs.ReconcileSchedules]) error {
	overdue, err := w.db.ListOverdueWorkspaces(ctx)
	if err != nil {
		return err
	}
	catchUp(ctx, w.db, w.log, jobargs.WorkspaceAutostop{}.Kind(), overdue, "a workspace past its deadline has no autostop job; stopping it",
		func(id uuid.UUID) error {
			_, err := w.autostop.stopIfDue(ctx, id, nil)
			return err
		})
	missed, err := w.db.ListMissedAutostarts(ctx)
	if err != nil {
		return err
	}
	schedules := map[uuid.UUID]string{}
	ids := make([]uuid.UUID, len(missed))
	for i, m := range missed {
		ids[i], schedules[m.ID] = m.ID, m.AutostartSchedule
	}
	catchUp(ctx, w.db, w.log, jobargs.WorkspaceAutostart{}.Kind(), ids, "an autostart passed without its job; queueing the next",
		func(id uuid.UUID) error {
			return w.db.InTx(ctx, func(tx db.Tx) error {
				return schedule.QueueAutostart(ctx, tx, river.ClientFromContext[pgx.Tx](ctx), id, schedules[id], time.Now())
			})
		})
	return nil
}

// catchUp runs act for each workspace of ids that has no job of kind still to run (one that has is
// left to it: a server that was down catches up), logging what it does and what fails.
func catchUp(ctx context.Context, d *db.DB, log *slog.Logger, kind string, ids []uuid.UUID, what string, act func(uuid.UUID) error) {
	for _, id := range ids {
		if pending, err := pendingJob(ctx, d, kind, id); err != nil || pending {
			continue
		}
		log.Warn("jobs: "+what, "workspace", id, "job", kind)
		if err := act(id); err != nil {
			log.Error("jobs: "+what+": failed", "workspace", id, "job", kind, "error", err)
		}
	}
}

// autostartWorker starts a stopped workspace at an occurrence of its schedule and queues the next
// occurrence, in one transaction under the workspace's row lock. A workspace that is not stopped
// (running, failed, mid-build) is left alone: that occurrence is skipped, and logged.
type autostartWorker struct {
	river.WorkerDefaults[jobargs.WorkspaceAutostart]
	db    *db.DB
	build BuildFunc
	log   *slog.Logger
}

func (w *autostartWorker) Work(ctx context.Context, job *river.Job[jobargs.WorkspaceAutostart]) error {
	id, err := uuid.Parse(job.Args.WorkspaceID)
	if err != nil {
		return river.JobCancel(err)
	}
	return w.db.InTx(ctx, func(tx db.Tx) error {
		ws, err := tx.LockWorkspace(ctx, id)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if ws.Deleted || ws.AutostartSchedule == "" || ws.NextAutostartAt == nil || ws.NextAutostartAt.Unix() != job.Args.At {
			return nil // the schedule changed (or went) since this occurrence was queued
		}
		latest, err := tx.LatestBuildWithParameters(ctx, dbsqlc.LatestBuildWithParametersParams{WorkspaceID: id, Before: 1 << 30})
		if err != nil {
			return err
		}
		ov, err := tx.GetWorkspace(ctx, id)
		if err != nil {
			return err
		}
		switch {
		case !ov.TemplateAllowUserAutostart:
			if err := skipped(ctx, tx, w.log, ws, "workspace-autostart", "its template "+ov.TemplateName+" does not allow autostart"); err != nil {
				return err
			}
		case ws.DormantAt != nil:
			if err := skipped(ctx, tx, w.log, ws, "workspace-autostart", "the workspace is dormant"); err != nil {
				return err
			}
		case latest.Transition == "stop" && latest.Status == "succeeded":
			w.log.Info("jobs: autostart: starting the workspace on its schedule", "workspace", id, "schedule", ws.AutostartSchedule)
			if err := w.build.build(ctx, tx, ws, "start", "workspace-autostart"); err != nil {
				return err
			}
		default:
			state := workspaceState(latest.Transition, latest.Status)
			if err := skipped(ctx, tx, w.log, ws, "workspace-autostart", "the workspace is "+state); err != nil {
				return err
			}
		}
		return schedule.QueueAutostart(ctx, tx, river.ClientFromContext[pgx.Tx](ctx), id, ws.AutostartSchedule, time.Now())
	})
}
