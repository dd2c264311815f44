package riverclaim_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
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
		jobs, err := c.Claim(context.Background(), tx.Raw, queues, 1)
		if len(jobs) > 0 {
			job = jobs[0]
		}
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

func complete(d *db.DB, c *riverclaim.Claimer, id int64, attempt int) error {
	return d.InTx(context.Background(), func(tx db.Tx) error { return c.Complete(context.Background(), tx.Raw, id, attempt) })
}

// Complete, and the import's completion in one statement, write River's table themselves: they must
// leave a job exactly as River's own completion does, to the column, so River's maintenance
// (retention, the UI, JobList) sees an ordinary completed job.
func TestCompleteMatchesRiver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, rc := setup(t)
	c := riverclaim.New(d.Pool, "worker")
	for range 3 {
		_, err := rc.Insert(ctx, noop{}, &river.InsertOpts{Queue: queue, Metadata: []byte(`{"tags":{"a":"b"}}`)})
		require.NoError(t, err)
	}
	ours, imported, theirs := claim(t, d, c, queue), claim(t, d, c, queue), claim(t, d, c, queue)
	require.NoError(t, complete(d, c, ours.ID, ours.Attempt))
	n, err := d.CompleteTemplateVersionImport(ctx, dbsqlc.CompleteTemplateVersionImportParams{JobID: imported.ID, Attempt: int32(imported.Attempt)}) //nolint:gosec
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	n, err = d.CompleteTemplateVersionImport(ctx, dbsqlc.CompleteTemplateVersionImportParams{JobID: imported.ID, Attempt: int32(imported.Attempt)}) //nolint:gosec
	require.NoError(t, err)
	require.Equal(t, int64(0), n, "fenced: a completed job is not completed again")
	_, err = riverpgxv5.New(d.Pool).GetExecutor().JobSetStateIfRunningMany(ctx, &riverdriver.JobSetStateIfRunningManyParams{
		ID: []int64{theirs.ID}, Attempt: []*int{nil}, ErrData: [][]byte{nil}, FinalizedAt: []*time.Time{ptr(time.Now().UTC())},
		MetadataDoMerge: []bool{false}, MetadataUpdates: [][]byte{nil}, ScheduledAt: []*time.Time{nil},
		State: []rivertype.JobState{rivertype.JobStateCompleted}})
	require.NoError(t, err)
	// Every column but the ones that differ by nature (ID, times, args) must match.
	row := func(id int64) map[string]any {
		rows, err := d.Pool.Query(ctx, `SELECT to_jsonb(j) - 'id' - 'args' - 'created_at' - 'scheduled_at' - 'attempted_at' - 'finalized_at' - 'unique_key',
			finalized_at IS NOT NULL AS finalized FROM river_job j WHERE id = $1`, id)
		require.NoError(t, err)
		m, err := pgx.CollectExactlyOneRow(rows, pgx.RowToMap)
		require.NoError(t, err)
		return m
	}
	require.Equal(t, row(theirs.ID), row(ours.ID))
	require.Equal(t, row(theirs.ID), row(imported.ID))
	require.Equal(t, true, row(ours.ID)["finalized"])
	jobs, err := rc.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateCompleted).Queues(queue))
	require.NoError(t, err)
	require.Len(t, jobs.Jobs, 3, "River lists all three as completed")
}

func ptr[T any](v T) *T { return &v }

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
				require.NoError(t, complete(d, c, job.ID, job.Attempt))
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
	require.ErrorIs(t, complete(d, c, first.ID, 1), riverclaim.ErrNotRunning, "the first attempt's late report")
	_, err = settle(d, c, first.ID, 1, riverclaim.Failed)
	require.ErrorIs(t, err, riverclaim.ErrNotRunning, "the first attempt's late failure")
	state, err = settle(d, c, second.ID, 2, riverclaim.Failed)
	require.NoError(t, err)
	require.Equal(t, rivertype.JobStateDiscarded, state, "no attempts left")
	require.ErrorIs(t, complete(d, c, second.ID, 2), riverclaim.ErrNotRunning, "settled once")
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
					jobs, err := c.Claim(ctx, tx.Raw, []string{queue}, 1)
					if err != nil || len(jobs) == 0 {
						job = nil
						return err
					}
					job = jobs[0]
					return c.Complete(ctx, tx.Raw, job.ID, job.Attempt)
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

// One claim for several jobs takes them from the queues in order, each once.
func TestClaimSeveral(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, rc := setup(t)
	c := riverclaim.New(d.Pool, "worker")
	for i, q := range []string{"second", queue, queue, "second"} {
		_, err := rc.Insert(ctx, noop{N: i}, &river.InsertOpts{Queue: q})
		require.NoError(t, err)
	}
	var jobs []*riverclaim.Job
	require.NoError(t, d.InTx(ctx, func(tx db.Tx) error {
		var err error
		jobs, err = c.Claim(ctx, tx.Raw, []string{queue, "second"}, 3)
		return err
	}))
	require.Len(t, jobs, 3)
	require.Equal(t, []string{queue, queue, "second"}, []string{jobs[0].Queue, jobs[1].Queue, jobs[2].Queue})
	for _, j := range jobs {
		require.Equal(t, rivertype.JobStateRunning, j.State)
	}
	last := claim(t, d, c, queue, "second")
	require.NotNil(t, last)
	require.NotContains(t, []int64{jobs[0].ID, jobs[1].ID, jobs[2].ID}, last.ID)
	require.Nil(t, claim(t, d, c, queue, "second"), "nothing left")
}
