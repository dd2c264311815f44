// Package riverclaim works River jobs outside a River client: the server claims provisioner jobs on
// behalf of workers that have no database access, and settles them when the workers report.
//
// It uses River's driver API (riverdriver.Executor: JobGetAvailable, JobSetStateIfRunningMany,
// JobGetCancelRequested), which River marks unstable. Every such call is in this package, River's
// version is pinned in go.mod, and this package's tests pin the behaviour relied on. River gives no
// fencing for such jobs, so Complete and Settle add it (and so does internal/db's CompleteTemplateVersionImport): they change a job only while it is running the attempt the
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

	"github.com/hearthdev/hearth/internal/db/dbsqlc"
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

// Claim locks up to n available jobs, taken from the first of queues in order until n are found,
// moving them to running with their attempts counted (SKIP LOCKED: concurrent claims never get the
// same job). It returns none when no queue has work. One call for n jobs costs little more than one
// for one: River's claim is planned afresh on every call.
func (c *Claimer) Claim(ctx context.Context, tx pgx.Tx, queues []string, n int) ([]*Job, error) {
	exec := c.driver.UnwrapExecutor(tx)
	var jobs []*Job
	for _, q := range queues {
		if len(jobs) >= n {
			break
		}
		res, err := exec.JobGetAvailable(ctx, &riverdriver.JobGetAvailableParams{
			ClientID: c.clientID, MaxAttemptedBy: 100, MaxToLock: n - len(jobs), Queue: q,
		})
		if err != nil {
			return nil, fmt.Errorf("riverclaim: claim from %s: %w", q, err)
		}
		for id, derr := range res.DecodeErrors {
			return nil, fmt.Errorf("riverclaim: job %d cannot be decoded: %w", id, derr)
		}
		jobs = append(jobs, res.Jobs...)
	}
	return jobs, nil
}

// Outcome is how an attempt ended without completing.
type Outcome int

// The outcomes.
const (
	// Failed: the attempt failed; the job is retried while it has attempts left, else discarded.
	Failed Outcome = iota + 1
	// Discarded: the job failed for good, whatever attempts are left.
	Discarded
	// Cancelled: the job was cancelled.
	Cancelled
)

// ErrNotRunning means the job is not running the given attempt any more: it finished, was cancelled,
// or was claimed again after its lease ran out.
var ErrNotRunning = errors.New("riverclaim: the job is not running that attempt")

// Complete ends attempt of job id as completed, in tx. It fails with ErrNotRunning unless the job is
// running exactly that attempt.
//
// It is the one kind of write to River's table that is not a driver call (the query CompleteRiverJob,
// and CompleteTemplateVersionImport, which does the same with an import's result in one statement): a
// completion needs nothing but the state and the time changed where the fence holds, which is what
// JobSetStateIfRunningMany's completion does, and one statement by primary key is a third of the cost
// of a fence, then a driver update (that one is planned afresh on every call: its generic plan, over
// arrays, executes five times slower). TestCompleteMatchesRiver pins both queries to what River's own
// completion leaves.
func (c *Claimer) Complete(ctx context.Context, tx pgx.Tx, id int64, attempt int) error {
	n, err := dbsqlc.New(tx).CompleteRiverJob(ctx, dbsqlc.CompleteRiverJobParams{ID: id, Attempt: int32(attempt)}) //nolint:gosec // attempts are small
	if err != nil {
		return fmt.Errorf("riverclaim: complete job %d: %w", id, err)
	}
	if n != 1 {
		return ErrNotRunning
	}
	return nil
}

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
	rows, err := c.driver.UnwrapExecutor(tx).JobSetStateIfRunningMany(ctx, manyParams(p))
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
