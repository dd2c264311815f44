package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/prebuilds"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// PrebuildsEvery is how often the reconciler compares each preset's pool with what it asks for.
const PrebuildsEvery = 15 * time.Second

// PrebuildsConfig tunes the prebuild reconciler.
type PrebuildsConfig struct {
	// Create makes a prebuild of a template's version and preset and starts its first build; without
	// it, no prebuilds are made.
	Create func(ctx context.Context, tx db.Tx, templateID, versionID uuid.UUID, preset string) error
	// MaxBuilds bounds the prebuild builds (creations and deletions) under way at once (default 5).
	MaxBuilds int
	// Every is how often to reconcile (default PrebuildsEvery).
	Every time.Duration
}

// failureWindow is how far back failed prebuilds count toward the backoff.
const failureWindow = time.Hour

// backoff is how long after the last of n recent failures a preset waits before it builds again.
func backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 10*time.Minute; i++ {
		d *= 2
	}
	return min(d, 10*time.Minute)
}

// prebuildsWorker keeps every preset's pool at its size: it makes what is missing, replaces
// prebuilds of an old version, deletes expired, failed, stopped and surplus ones, waits after
// failures, and never has more than MaxBuilds prebuild builds under way.
type prebuildsWorker struct {
	river.WorkerDefaults[jobargs.ReconcilePrebuilds]
	db    *db.DB
	cfg   PrebuildsConfig
	build BuildFunc
	pools *prebuilds.Pools
	log   *slog.Logger
}

type poolKey struct {
	template uuid.UUID
	preset   string
}

func (w *prebuildsWorker) Work(ctx context.Context, _ *river.Job[jobargs.ReconcilePrebuilds]) error {
	if w.cfg.Create == nil {
		return nil
	}
	plan, pools, err := w.plan(ctx, time.Now())
	if err != nil {
		return err
	}
	w.pools.Set(pools)
	if err := prebuilds.Publish(ctx, w.db.Queries, pools, time.Now()); err != nil {
		w.log.WarnContext(ctx, "prebuilds: publishing the pools' view failed", "error", err)
	}
	for _, id := range plan.remove {
		if err := w.remove(ctx, id); err != nil {
			w.log.WarnContext(ctx, "prebuilds: deleting a prebuild failed", "workspace", id, "error", err)
		}
	}
	for _, c := range plan.create {
		err := w.db.InTx(ctx, func(tx db.Tx) error { return w.cfg.Create(ctx, tx, c.template, c.version, c.preset) })
		if err != nil {
			w.log.WarnContext(ctx, "prebuilds: making a prebuild failed", "template", c.template, "preset", c.preset, "error", err)
		}
	}
	return nil
}

type creation struct {
	template, version uuid.UUID
	preset            string
}

type prebuildPlan struct {
	create []creation
	remove []uuid.UUID
}

// plan compares the pools with their presets: what to make and what to delete, within the budget
// of builds.
func (w *prebuildsWorker) plan(ctx context.Context, now time.Time) (prebuildPlan, []prebuilds.Pool, error) {
	var out prebuildPlan
	presets, err := w.db.ListPrebuildPresets(ctx)
	if err != nil {
		return out, nil, err
	}
	rows, err := w.db.ListPrebuilds(ctx)
	if err != nil {
		return out, nil, err
	}
	failures, err := w.db.RecentPrebuildFailures(ctx, failureWindow.Seconds())
	if err != nil {
		return out, nil, err
	}
	claimRows, err := w.db.CountPrebuildClaims(ctx)
	if err != nil {
		return out, nil, err
	}
	claims := map[poolKey]int{}
	for _, c := range claimRows {
		claims[poolKey{c.TemplateID, c.Preset}] = int(c.Claims)
	}
	budget := w.cfg.MaxBuilds
	if budget <= 0 {
		budget = 5
	}
	byPool := map[poolKey][]dbsqlc.ListPrebuildsRow{}
	for _, p := range rows {
		if p.Status == "pending" || p.Status == "running" || p.Status == "canceling" {
			budget-- // under way, whatever it is doing
		}
		k := poolKey{p.TemplateID, p.Preset}
		byPool[k] = append(byPool[k], p)
	}
	failed := map[poolKey]dbsqlc.RecentPrebuildFailuresRow{}
	for _, f := range failures {
		failed[poolKey{f.TemplateID, f.Preset}] = f
	}
	take := func() bool {
		if budget <= 0 {
			return false
		}
		budget--
		return true
	}
	pools := make([]prebuilds.Pool, 0, len(presets))
	wanted := map[poolKey]bool{}
	for _, ps := range presets {
		k := poolKey{ps.TemplateID, ps.Preset}
		wanted[k] = true
		pool := prebuilds.Pool{TemplateID: ps.TemplateID, TemplateName: ps.TemplateName, Preset: ps.Preset, Desired: desired(ps, now), Claimed: claims[k]}
		var keep []dbsqlc.ListPrebuildsRow
		for _, p := range byPool[k] {
			underWay := p.Status == "pending" || p.Status == "running" || p.Status == "canceling"
			current := p.TemplateVersionID == ps.VersionID
			expired := ps.TtlSeconds > 0 && now.Sub(p.CreatedAt) > time.Duration(ps.TtlSeconds)*time.Second
			switch {
			case underWay && p.Transition == "start" && current:
				pool.Starting++
			case underWay:
			case p.Transition == "start" && p.Status == "succeeded" && current && !expired:
				keep = append(keep, p)
			case p.Transition == "delete":
				// A delete that failed is left for an operator (its infrastructure may be half gone).
			default: // failed, stopped, canceled, of an old version, or expired
				if take() {
					out.remove = append(out.remove, p.ID)
				}
			}
		}
		// Surplus: the oldest go first.
		sort.Slice(keep, func(i, j int) bool { return keep[i].CreatedAt.Before(keep[j].CreatedAt) })
		for len(keep)+pool.Starting > pool.Desired && len(keep) > 0 {
			if take() {
				out.remove = append(out.remove, keep[0].ID)
			}
			keep = keep[1:]
		}
		pool.Running = len(keep)
		for _, p := range keep {
			if p.Ready {
				pool.Eligible++
			}
		}
		if f, ok := failed[k]; ok {
			pool.Failed = int(f.Failures)
			if until := f.LastFailure.Add(backoff(pool.Failed)); until.After(now) {
				pool.BackoffUntil = &until
			}
		}
		for missing := pool.Desired - pool.Running - pool.Starting; missing > 0 && pool.BackoffUntil == nil && take(); missing-- {
			out.create = append(out.create, creation{template: ps.TemplateID, version: ps.VersionID, preset: ps.Preset})
		}
		pools = append(pools, pool)
	}
	// Prebuilds of presets that no longer ask for any (a new version without them, a deleted template).
	for k, ps := range byPool {
		if wanted[k] {
			continue
		}
		for _, p := range ps {
			if p.Status != "pending" && p.Status != "running" && p.Status != "canceling" && p.Transition != "delete" && take() {
				out.remove = append(out.remove, p.ID)
			}
		}
	}
	return out, pools, nil
}

// remove starts the delete build of a prebuild, if it is still one.
func (w *prebuildsWorker) remove(ctx context.Context, id uuid.UUID) error {
	return w.db.InTx(ctx, func(tx db.Tx) error {
		ws, err := tx.LockWorkspace(ctx, id)
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if ws.OwnerID != authz.PrebuildsOwner || ws.Deleted {
			return nil // claimed meanwhile
		}
		return w.build.build(ctx, tx, ws, "delete", "prebuild-delete")
	})
}

// desired is how many prebuilds a preset asks for at now: the instances of the first entry of its
// scheduling block whose cron matches now (in the block's time zone; minute hour day-of-month month
// day-of-week, such as "* 8-18 * * 1-5" for working hours), else its prebuilds.instances. A cron
// that does not parse, or an unknown zone, counts as not matching (the import warned about it).
func desired(ps dbsqlc.ListPrebuildPresetsRow, now time.Time) int {
	var schedule []struct {
		Cron      string `json:"cron"`
		Instances int64  `json:"instances"`
	}
	_ = json.Unmarshal(ps.Schedule, &schedule) // written by us
	if len(schedule) == 0 {
		return int(ps.Instances)
	}
	zone := ps.Timezone
	if zone == "" {
		zone = "UTC"
	}
	minute := now.Truncate(time.Minute)
	for _, s := range schedule {
		c, err := cron.ParseStandard("CRON_TZ=" + zone + " " + s.Cron)
		if err == nil && c.Next(minute.Add(-time.Second)).Equal(minute) {
			return int(s.Instances)
		}
	}
	return int(ps.Instances)
}
