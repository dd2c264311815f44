// Package provisioning holds what the provisioner API and the control plane's jobs share about
// provisioner jobs: the pre-shared keys workers authenticate with, and how a job that did not
// complete is ended (by its worker's report, or because its worker went silent).
package provisioning

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/riverclaim"
	"github.com/hearthdev/hearth/internal/schedule"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

// NotifyChannel carries the queue name of every provisioner job that becomes available, so waiting
// workers hear of it at once.
const NotifyChannel = "hearth_provisioner_jobs"

// Keys holds the SHA-256 of every accepted pre-shared key, so keys of any length compare in
// constant time and the keys themselves are not kept.
type Keys struct{ hashes [][32]byte }

// NewKeys accepts keys; empty ones are skipped.
func NewKeys(keys ...string) *Keys {
	k := &Keys{}
	for _, s := range keys {
		if s = strings.TrimSpace(s); s != "" {
			k.hashes = append(k.hashes, sha256.Sum256([]byte(s)))
		}
	}
	return k
}

// Valid reports whether key is one of the keys; it compares against all of them, in constant time.
func (k *Keys) Valid(key string) bool {
	if k == nil || key == "" {
		return false
	}
	h := sha256.Sum256([]byte(key))
	ok := 0
	for _, want := range k.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	return ok == 1
}

// Empty reports whether no key is accepted.
func (k *Keys) Empty() bool { return k == nil || len(k.hashes) == 0 }

// EndJob settles a job that did not complete and records that on what it was for. A failed start
// build gets the job that stops it after its template's failure TTL, inserted through queue.
func EndJob(ctx context.Context, tx db.Tx, c *riverclaim.Claimer, queue *river.Client[pgx.Tx], job int64, attempt int, outcome riverclaim.Outcome, message string) error {
	settled, err := c.Settle(ctx, tx.Raw, job, attempt, outcome, message)
	if err != nil {
		return err
	}
	state := settled.State
	if state == rivertype.JobStateAvailable { // retried: wake a worker for it
		if err := pgnotify.Notify(ctx, tx.Raw, NotifyChannel, settled.Queue); err != nil {
			return err
		}
	}
	if err := tx.DeleteLease(ctx, dbsqlc.DeleteLeaseParams{JobID: job, Attempt: int32(attempt)}); err != nil { //nolint:gosec
		return err
	}
	status := "failed"
	switch state {
	case rivertype.JobStateCancelled:
		status = "canceled"
	case rivertype.JobStateAvailable, rivertype.JobStateRetryable:
		status = "pending" // it runs again
	}
	v, err := tx.GetTemplateVersionByJob(ctx, &job)
	if err == nil {
		return tx.SetTemplateVersionStatus(ctx, dbsqlc.SetTemplateVersionStatusParams{ID: v.ID, Status: status, Error: message})
	}
	if !errors.Is(db.Translate(err), db.ErrNotFound) {
		return err
	}
	b, err := tx.GetWorkspaceBuildByJob(ctx, &job)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.SetWorkspaceBuildStatus(ctx, dbsqlc.SetWorkspaceBuildStatusParams{ID: b.ID, Status: status, Error: message}); err != nil {
		return err
	}
	b.Status = status
	if err := schedule.QueueFailureStop(ctx, tx, queue, b); err != nil {
		return err
	}
	return pgnotify.Notify(ctx, tx.Raw, LogsChannel, strconv.FormatInt(job, 10))
}

// LogsChannel carries the ID of a job that printed new lines or ended, so followers of its logs on
// any replica read on at once.
const LogsChannel = "hearth_job_logs"

// MarkCanceled records a user's cancellation of a job on what it is for: a job that was not running
// is canceled now; a running one is canceling until its worker stops Terraform and reports.
func MarkCanceled(ctx context.Context, tx db.Tx, job int64, state rivertype.JobState) error {
	status, msg := "canceling", ""
	if state == rivertype.JobStateCancelled {
		status, msg = "canceled", "canceled before it started"
	}
	if v, err := tx.GetTemplateVersionByJob(ctx, &job); err == nil {
		if status == "canceling" {
			return nil // imports show running until they end
		}
		return tx.SetTemplateVersionStatus(ctx, dbsqlc.SetTemplateVersionStatusParams{ID: v.ID, Status: status, Error: msg})
	}
	b, err := tx.GetWorkspaceBuildByJob(ctx, &job)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.SetWorkspaceBuildStatus(ctx, dbsqlc.SetWorkspaceBuildStatusParams{ID: b.ID, Status: status, Error: msg}); err != nil {
		return err
	}
	return pgnotify.Notify(ctx, tx.Raw, LogsChannel, strconv.FormatInt(job, 10))
}

// ReapLeases ends the jobs whose workers stopped heartbeating: a lost worker's job is retried while it
// has attempts left, else failed, with a log line naming the worker. It returns how many it ended.
func ReapLeases(ctx context.Context, d *db.DB, c *riverclaim.Claimer, queue *river.Client[pgx.Tx], log *slog.Logger) (int, error) {
	if err := TickLeaseClock(ctx, d, log); err != nil {
		return 0, err
	}
	leases, err := d.ListExpiredLeases(ctx)
	if err != nil {
		return 0, fmt.Errorf("provisioning: expired leases: %w", err)
	}
	n := 0
	for _, l := range leases {
		msg := fmt.Sprintf("provisioner worker %s stopped responding (no heartbeat since %s)", l.WorkerName, l.HeartbeatAt.UTC().Format("15:04:05"))
		err := d.InTx(ctx, func(tx db.Tx) error {
			if err := tx.InsertJobLogs(ctx, dbsqlc.InsertJobLogsParams{JobID: l.JobID, Times: []time.Time{time.Now()},
				Stages: []string{"cleanup"}, Levels: []string{"error"}, Outputs: []string{msg}}); err != nil {
				return err
			}
			if err := EndJob(ctx, tx, c, queue, l.JobID, int(l.Attempt), riverclaim.Failed, msg); err != nil {
				return err
			}
			return tx.HoldBuildForLateResult(ctx, dbsqlc.HoldBuildForLateResultParams{JobID: l.JobID, Seconds: LateResultGrace.Seconds()})
		})
		if errors.Is(err, riverclaim.ErrNotRunning) {
			// Settled meanwhile; the lease is stale.
			err = d.DeleteLease(ctx, dbsqlc.DeleteLeaseParams{JobID: l.JobID, Attempt: l.Attempt})
		} else if err == nil {
			n++
			log.WarnContext(ctx, msg, "job", l.JobID, "attempt", l.Attempt)
		}
		if err != nil {
			return n, fmt.Errorf("provisioning: reap job %d: %w", l.JobID, err)
		}
	}
	return n, nil
}

// LateResultGrace is how long a build that failed because its worker went silent stays open to that
// worker's late result (a worker cut off from the network still delivers what it did when it is
// back): its workspace starts no new build meanwhile, which would start from older state.
const LateResultGrace = 30 * time.Second

// ClockGap is how long the lease clock may go without a tick (every replica ticks it every
// ClockEvery, and the reaper before it looks) before the gap counts as time when nobody could reach
// the database: an outage of the database, or of every replica. Leases are then extended by the gap,
// measured on the database's clock.
const ClockGap = 6 * time.Second

// ClockEvery is how often each replica ticks the lease clock.
const ClockEvery = 2 * time.Second

// TickLeaseClock ticks the lease clock once; the first tick after a gap extends every lease by it.
func TickLeaseClock(ctx context.Context, d *db.DB, log *slog.Logger) error {
	tick, err := d.TickLeaseClock(ctx, ClockGap.Seconds())
	if err != nil {
		return fmt.Errorf("provisioning: lease clock: %w", err)
	}
	if tick.ExtendedSeconds > 0 {
		log.WarnContext(ctx, "provisioning: no replica reached the database for a while; provisioner leases extended by that time",
			"extended_by", time.Duration(tick.ExtendedSeconds*float64(time.Second)).Round(time.Second), "leases", tick.Leases)
	}
	return nil
}

// RunLeaseClock ticks the lease clock every ClockEvery until ctx ends, so that the end of an outage
// is noticed by the first replica that reaches the database again, whether or not it leads the job
// queue (whose leader election can take a while to come back).
func RunLeaseClock(ctx context.Context, d *db.DB, log *slog.Logger) {
	t := time.NewTicker(ClockEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := TickLeaseClock(ctx, d, log); err != nil && ctx.Err() == nil && !db.IsUnavailable(err) {
			log.WarnContext(ctx, err.Error())
		}
	}
}

// SeenWithin is how recently a worker must have asked for work to count as present.
const SeenWithin = time.Minute

// Covers reports whether a worker with workerTags takes jobs with jobTags: it has all of them, or
// both are untagged.
func Covers(workerTags, jobTags map[string]string) bool {
	if len(jobTags) == 0 {
		return len(workerTags) == 0
	}
	for k, v := range jobTags {
		if w, ok := workerTags[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Unmatched returns, of the waiting jobs' tag sets, those no present worker takes.
func Unmatched(workers []map[string]string, jobTags []map[string]string) []map[string]string {
	var out []map[string]string
	for _, jt := range jobTags {
		taken := false
		for _, wt := range workers {
			if Covers(wt, jt) {
				taken = true
				break
			}
		}
		if !taken {
			out = append(out, jt)
		}
	}
	return out
}

// CountKey groups jobs by state and tag set.
type CountKey struct{ State, Tags string }

// QueueSnapshot is the provisioner queue at one moment; maps are keyed by tag label (region=eu,...).
type QueueSnapshot struct {
	Jobs       []riverclaim.Active
	Counts     map[CountKey]int
	Oldest     map[string]time.Time
	Workers    map[string]int
	Unmatched  map[string]int
	workerTags []map[string]string
}

// Snapshot reads the queue and the workers seen in the last minute.
func Snapshot(ctx context.Context, d *db.DB) (*QueueSnapshot, error) {
	jobs, err := riverclaim.ListActive(ctx, d.Pool, jobargs.QueueProvisioner)
	if err != nil {
		return nil, err
	}
	workers, err := d.ListProvisionerWorkers(ctx)
	if err != nil {
		return nil, err
	}
	s := &QueueSnapshot{Jobs: jobs, Counts: map[CountKey]int{}, Oldest: map[string]time.Time{}, Workers: map[string]int{}, Unmatched: map[string]int{}}
	for _, w := range workers {
		if time.Since(w.LastSeenAt) > SeenWithin {
			continue
		}
		tags := map[string]string{}
		_ = json.Unmarshal(w.Tags, &tags) // written by us from a map
		s.workerTags = append(s.workerTags, tags)
		s.Workers[jobargs.TagLabel(tags)]++
	}
	for _, j := range jobs {
		tags := TagsOf(j)
		label := jobargs.TagLabel(tags)
		s.Counts[CountKey{j.State, label}]++
		if j.State != "available" {
			continue
		}
		if at, ok := s.Oldest[label]; !ok || j.CreatedAt.Before(at) {
			s.Oldest[label] = j.CreatedAt
		}
		if !s.Matched(tags) {
			s.Unmatched[label]++
		}
	}
	return s, nil
}

// Matched reports whether a worker seen in the last minute takes jobs with tags.
func (s *QueueSnapshot) Matched(tags map[string]string) bool {
	return len(Unmatched(s.workerTags, []map[string]string{tags})) == 0
}

// TagsOf reads a job's tags from its metadata.
func TagsOf(j riverclaim.Active) map[string]string {
	var m jobargs.ProvisionerMetadata
	_ = json.Unmarshal(j.Metadata, &m) // written at insert; a job without tags has none
	if m.Tags == nil {
		return map[string]string{}
	}
	return m.Tags
}

// WarnUnmatched logs, once per job, waiting jobs older than after that no present worker takes.
// warned remembers the jobs already reported.
func WarnUnmatched(ctx context.Context, d *db.DB, log *slog.Logger, after time.Duration, warned map[int64]bool) error {
	s, err := Snapshot(ctx, d)
	if err != nil {
		return err
	}
	for _, j := range s.Jobs {
		if j.State == "available" && time.Since(j.CreatedAt) > after && !warned[j.ID] && !s.Matched(TagsOf(j)) {
			warned[j.ID] = true
			log.WarnContext(ctx, "provisioner: a job is waiting for a worker that has its tags, and none is running",
				"job", j.ID, "kind", j.Kind, "tags", jobargs.TagLabel(TagsOf(j)), "waiting", time.Since(j.CreatedAt).Round(time.Second))
		}
	}
	if len(warned) > 10_000 {
		clear(warned)
	}
	return nil
}
