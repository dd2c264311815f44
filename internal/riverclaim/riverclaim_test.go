package riverclaim_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/riverclaim"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type noop struct{ N int }

func (noop) Kind() string { return "noop" }

const queue = "provisioner-test"

func setup(t *testing.T) (*db.DB, *river.Client[pgx.Tx]) {
	t.Helper()
	d := dbtest.New(t)
	rc, err := river.NewClient(riverpgxv5.New(d.Pool), &river.Config{}) // insert-only
	require.NoError(t, err)
	return d, rc
}

func claim(t *testing.T, d *db.DB, c *riverclaim.Claimer, queues ...string) *riverclaim.Job {
	t.Helper()
	var job *riverclaim.Job
	require.NoError(t, d.InTx(context.Background(), func(tx db.Tx) error {
		var err error
		job, err = c.Claim(context.Background(), tx.Raw, queues)
		return err
	}))
	return job
}

func settle(d *db.DB, c *riverclaim.Claimer, id int64, attempt int, o riverclaim.Outcome) (rivertype.JobState, error) {
	var state rivertype.JobState
	err := d.InTx(context.Background(), func(tx db.Tx) error {
		job, err := c.Settle(context.Background(), tx.Raw, id, attempt, o, "boom")
		if job != nil {
			state = job.State
		}
		return err
	})
	return state, err
}

// Many claimers racing over many jobs: every job is claimed exactly once.
func TestEveryJobIsClaimedExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, rc := setup(t)
	const jobs, workers = 200, 20
	params := make([]river.InsertManyParams, jobs)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noop{N: i}, InsertOpts: &river.InsertOpts{Queue: queue}}
	}
	_, err := rc.InsertMany(ctx, params)
	require.NoError(t, err)

	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := riverclaim.New(d.Pool, "worker")
			for {
				job := claim(t, d, c, "other-queue", queue)
				if job == nil {
					return
				}
				_, err := settle(d, c, job.ID, job.Attempt, riverclaim.Completed)
				require.NoError(t, err)
				mu.Lock()
				seen[job.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, seen, jobs)
	for id, n := range seen {
		require.Equal(t, 1, n, "job %d", id)
	}
	var done int
	require.NoError(t, d.Pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&done))
	require.Equal(t, jobs, done)
}

// A worker whose attempt was superseded cannot finish the job.
func TestStaleAttemptsAreFenced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, rc := setup(t)
	c := riverclaim.New(d.Pool, "worker")
	_, err := rc.Insert(ctx, noop{}, &river.InsertOpts{Queue: queue, MaxAttempts: 2})
	require.NoError(t, err)

	first := claim(t, d, c, queue)
	require.Equal(t, 1, first.Attempt)
	state, err := settle(d, c, first.ID, 1, riverclaim.Failed)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateAvailable, state, "attempts left: available again at once")

	second := claim(t, d, c, queue)
	require.Equal(t, 2, second.Attempt)
	_, err = settle(d, c, first.ID, 1, riverclaim.Completed)
	require.ErrorIs(t, err, riverclaim.ErrNotRunning, "the first attempt's late report")
	state, err = settle(d, c, second.ID, 2, riverclaim.Failed)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateDiscarded, state, "no attempts left")
	_, err = settle(d, c, second.ID, 2, riverclaim.Completed)
	require.ErrorIs(t, err, riverclaim.ErrNotRunning, "settled once")
}

func TestCancellationRequestsAreSeen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, rc := setup(t)
	c := riverclaim.New(d.Pool, "worker")
	_, err := rc.Insert(ctx, noop{}, &river.InsertOpts{Queue: queue})
	require.NoError(t, err)
	job := claim(t, d, c, queue)
	ids, err := c.CancelRequested(ctx, []int64{job.ID})
	require.NoError(t, err)
	require.Empty(t, ids)
	_, err = rc.JobCancel(ctx, job.ID)
	require.NoError(t, err)
	ids, err = c.CancelRequested(ctx, []int64{job.ID})
	require.NoError(t, err)
	require.Equal(t, []int64{job.ID}, ids)
	state, err := settle(d, c, job.ID, job.Attempt, riverclaim.Cancelled)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateCancelled, state)
	require.Nil(t, claim(t, d, c, queue), "nothing left")
}

// BenchmarkClaimAndComplete measures claiming and completing no-op jobs with 20 concurrent claimers,
// straight on the database (the HTTP path adds to it; see the api package's benchmark).
func BenchmarkClaimAndComplete(b *testing.B) {
	ctx := context.Background()
	d := dbtest.New(b)
	rc, err := river.NewClient(riverpgxv5.New(d.Pool), &river.Config{})
	require.NoError(b, err)
	params := make([]river.InsertManyParams, b.N)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noop{N: i}, InsertOpts: &river.InsertOpts{Queue: queue}}
	}
	_, err = rc.InsertManyFast(ctx, params)
	require.NoError(b, err)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := riverclaim.New(d.Pool, "bench")
			for {
				var job *riverclaim.Job
				err := d.InTx(ctx, func(tx db.Tx) error {
					var err error
					if job, err = c.Claim(ctx, tx.Raw, []string{queue}); err != nil || job == nil {
						return err
					}
					_, err = c.Settle(ctx, tx.Raw, job.ID, job.Attempt, riverclaim.Completed, "")
					return err
				})
				if err != nil || job == nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
