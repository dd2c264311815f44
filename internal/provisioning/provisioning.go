// Package provisioning holds what the provisioner API and the control plane's jobs share about
// provisioner jobs: the pre-shared keys workers authenticate with, and how a job that did not
// complete is ended (by its worker's report, or because its worker went silent).
package provisioning

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/riverclaim"
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

// EndJob settles a job that did not complete and records that on what it was for.
func EndJob(ctx context.Context, tx db.Tx, c *riverclaim.Claimer, job int64, attempt int, outcome riverclaim.Outcome, message string) error {
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
	v, err := tx.GetTemplateVersionByJob(ctx, &job)
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	status := "failed"
	switch state {
	case rivertype.JobStateCancelled:
		status = "canceled"
	case rivertype.JobStateAvailable, rivertype.JobStateRetryable:
		status = "pending" // it runs again
	}
	return tx.SetTemplateVersionStatus(ctx, dbsqlc.SetTemplateVersionStatusParams{ID: v.ID, Status: status, Error: message})
}

// ReapLeases ends the jobs whose workers stopped heartbeating: a lost worker's job is retried while it
// has attempts left, else failed, with a log line naming the worker. It returns how many it ended.
func ReapLeases(ctx context.Context, d *db.DB, c *riverclaim.Claimer, log *slog.Logger) (int, error) {
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
			return EndJob(ctx, tx, c, l.JobID, int(l.Attempt), riverclaim.Failed, msg)
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
