// Package riverclaim works River jobs outside a River client: the server claims provisioner jobs on
// behalf of workers that have no database access, and settles them when the workers report.
//
// It uses River's driver API (riverdriver.Executor: JobGetAvailable, JobSetStateIfRunningMany,
// JobUpdateFull, JobGetCancelRequested), which River marks unstable. Every such call is in this package, River's
// version is pinned in go.mod, and this package's tests pin the behaviour relied on. River gives no
// fencing for such jobs, so Settle adds it: it changes a job only while it is running the attempt the
// caller claimed, so a worker that lost its lease cannot finish a job that was claimed again.
package riverclaim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Job is a claimed job: River's row.
type Job = rivertype.JobRow

// Claimer claims and settles jobs.
type Claimer struct {
	driver   *riverpgxv5.Driver
	clientID string
}

// New returns a claimer on pool; clientID is recorded in the jobs' attempted_by.
func New(pool *pgxpool.Pool, clientID string) *Claimer {
	return &Claimer{driver: riverpgxv5.New(pool), clientID: clientID}
}

// Claim locks the next available job of the first queue in queues that has one, moving it to running
// with its attempt counted (SKIP LOCKED: concurrent claims never get the same job). It returns nil when
// no queue has work.
func (c *Claimer) Claim(ctx context.Context, tx pgx.Tx, queues []string) (*Job, error) {
	exec := c.driver.UnwrapExecutor(tx)
	for _, q := range queues {
		res, err := exec.JobGetAvailable(ctx, &riverdriver.JobGetAvailableParams{
			ClientID: c.clientID, MaxAttemptedBy: 100, MaxToLock: 1, Queue: q,
		})
		if err != nil {
			return nil, fmt.Errorf("riverclaim: claim from %s: %w", q, err)
		}
		for id, derr := range res.DecodeErrors {
			return nil, fmt.Errorf("riverclaim: job %d cannot be decoded: %w", id, derr)
		}
		if len(res.Jobs) > 0 {
			return res.Jobs[0], nil
		}
	}
	return nil, nil //nolint:nilnil // no job is not an error
}

// Outcome is how an attempt ended.
type Outcome int

// The outcomes.
const (
	// Completed: the job is done.
	Completed Outcome = iota
	// Failed: the attempt failed; the job is retried while it has attempts left, else discarded.
	Failed
	// Discarded: the job failed for good, whatever attempts are left.
	Discarded
	// Cancelled: the job was cancelled.
	Cancelled
)

// ErrNotRunning means the job is not running the given attempt any more: it finished, was cancelled,
// or was claimed again after its lease ran out.
var ErrNotRunning = errors.New("riverclaim: the job is not running that attempt")

// Settle ends attempt of job id with outcome, in tx. It fails with ErrNotRunning unless the job is
// running exactly that attempt. A failed attempt with attempts left is available again at once (the
// caller wakes workers). The job as it is left is returned.
func (c *Claimer) Settle(ctx context.Context, tx pgx.Tx, id int64, attempt int, outcome Outcome, message string) (*Job, error) {
	var maxAttempts int
	// The fence: lock the row, and only while it runs this attempt.
	err := tx.QueryRow(ctx, `SELECT max_attempts FROM river_job WHERE id = $1 AND state = 'running' AND attempt = $2 FOR UPDATE`,
		id, attempt).Scan(&maxAttempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotRunning
	}
	if err != nil {
		return nil, fmt.Errorf("riverclaim: settle job %d: %w", id, err)
	}
	now := time.Now().UTC()
	exec := c.driver.UnwrapExecutor(tx)
	if outcome == Completed {
		// The row is locked and runs this attempt, which is all JobSetStateIfRunningMany would check
		// for a completion. That statement is planned afresh on every call (its generic plan, over
		// arrays, executes five times slower), which made it the most expensive step of a job
		// (0.6 ms of planning): a plain update by ID plans once.
		row, err := exec.JobUpdateFull(ctx, &riverdriver.JobUpdateFullParams{ID: id, StateDoUpdate: true, State: rivertype.JobStateCompleted,
			FinalizedAtDoUpdate: true, FinalizedAt: &now})
		if err != nil {
			return nil, fmt.Errorf("riverclaim: complete job %d: %w", id, err)
		}
		return row, nil
	}
	errData, _ := json.Marshal(rivertype.AttemptError{At: now, Attempt: attempt, Error: message})
	var p *riverdriver.JobSetStateIfRunningParams
	switch {
	case outcome == Cancelled:
		p = riverdriver.JobSetStateCancelled(id, now, errData, nil)
	case outcome == Failed && attempt < maxAttempts:
		p = riverdriver.JobSetStateErrorAvailable(id, now, errData, nil)
	default:
		p = riverdriver.JobSetStateDiscarded(id, now, errData, nil)
	}
	rows, err := exec.JobSetStateIfRunningMany(ctx, manyParams(p))
	if err != nil {
		return nil, fmt.Errorf("riverclaim: settle job %d: %w", id, err)
	}
	if len(rows) != 1 {
		return nil, ErrNotRunning
	}
	return rows[0], nil
}

func manyParams(p *riverdriver.JobSetStateIfRunningParams) *riverdriver.JobSetStateIfRunningManyParams {
	return &riverdriver.JobSetStateIfRunningManyParams{
		ID:              []int64{p.ID},
		Attempt:         []*int{p.Attempt},
		ErrData:         [][]byte{p.ErrData},
		FinalizedAt:     []*time.Time{p.FinalizedAt},
		MetadataDoMerge: []bool{p.MetadataDoMerge},
		MetadataUpdates: [][]byte{p.MetadataUpdates},
		ScheduledAt:     []*time.Time{p.ScheduledAt},
		State:           []rivertype.JobState{p.State},
	}
}

// CancelRequested returns those of ids that are running and that someone asked to cancel
// (River's JobCancel on a running job records the request in its metadata).
func (c *Claimer) CancelRequested(ctx context.Context, ids []int64) ([]int64, error) {
	out, err := c.driver.GetExecutor().JobGetCancelRequested(ctx, &riverdriver.JobGetCancelRequestedParams{ID: ids})
	if err != nil {
		return nil, fmt.Errorf("riverclaim: cancel requests: %w", err)
	}
	return out, nil
}

// Active is a job waiting or running in one of the queues, with its place in line.
type Active struct {
	ID        int64
	Kind      string
	Queue     string
	State     string
	Attempt   int
	CreatedAt time.Time
	// Position is 1 for the next job its queue hands out; 0 for running jobs.
	Position int
	Metadata []byte
}

// ListActive lists the jobs not yet finished in the queues whose names start with prefix.
func ListActive(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, prefix string) ([]Active, error) {
	rows, err := q.Query(ctx, `
SELECT id, kind, queue, state::text, attempt, created_at,
       CASE WHEN state = 'available'
            THEN row_number() OVER (PARTITION BY queue, state = 'available' ORDER BY priority, scheduled_at, id)
            ELSE 0 END, metadata
FROM river_job
WHERE starts_with(queue, $1) AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending')
ORDER BY id`, prefix)
	if err != nil {
		return nil, fmt.Errorf("riverclaim: list: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Active, error) {
		var a Active
		err := r.Scan(&a.ID, &a.Kind, &a.Queue, &a.State, &a.Attempt, &a.CreatedAt, &a.Position, &a.Metadata)
		return a, err
	})
}
