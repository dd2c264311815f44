package provisioner

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/riverclaim"
)

// claims coalesces the claims workers make at the same time for the same queues into one: a batch
// claims up to one job for each worker waiting in it, in one transaction, and only one batch per set
// of queues runs at a time, so while one runs the next one gathers. Under load River's claim (planned
// afresh on every call) is the costliest statement of a job, and one call for several workers costs
// little more than one for one; an idle worker's claim runs at once, alone.
type claims struct {
	prepare func(context.Context, db.Tx, []dbsqlc.ProvisionerWorker, []*riverclaim.Job) ([]*Job, error)
	db      *db.DB
	claimer *riverclaim.Claimer

	mu      sync.Mutex
	waiting map[string]*batch // by queues
	running map[string]bool
}

type batch struct {
	queues []string
	asks   []*ask
}

type ask struct {
	ctx    context.Context
	worker dbsqlc.ProvisionerWorker
	answer chan answer // buffered: a batch never waits for an asker
}

type answer struct {
	job *Job
	err error
}

// maxBatch bounds the workers one batch claims for.
const maxBatch = 64

// claim claims a job for worker from the first of queues that has one; nil if none has.
func (c *claims) claim(ctx context.Context, worker dbsqlc.ProvisionerWorker, queues []string) (*Job, error) {
	a := &ask{ctx: ctx, worker: worker, answer: make(chan answer, 1)}
	key := strings.Join(queues, "\x00")
	c.mu.Lock()
	if c.waiting == nil {
		c.waiting, c.running = map[string]*batch{}, map[string]bool{}
	}
	b := c.waiting[key]
	if b == nil {
		b = &batch{queues: queues}
		c.waiting[key] = b
	}
	b.asks = append(b.asks, a)
	start := !c.running[key]
	c.running[key] = true
	c.mu.Unlock()
	if start {
		go c.run(key)
	}
	select {
	case ans := <-a.answer:
		return ans.job, ans.err
	case <-ctx.Done():
		// A job claimed for us after this moment is given back by its lease running out.
		return nil, ctx.Err()
	}
}

// run serves the batches of key until none waits.
func (c *claims) run(key string) {
	for {
		c.mu.Lock()
		b := c.waiting[key]
		delete(c.waiting, key)
		if b == nil {
			c.running[key] = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for len(b.asks) > 0 {
			n := min(len(b.asks), maxBatch)
			c.serve(b.queues, b.asks[:n])
			b.asks = b.asks[n:]
		}
	}
}

// serve claims from queues for the workers of asks still waiting, and answers them all.
func (c *claims) serve(queues []string, all []*ask) {
	var asks []*ask
	for _, a := range all {
		if a.ctx.Err() == nil {
			asks = append(asks, a)
		}
	}
	if len(asks) == 0 {
		return
	}
	// The batch serves several requests: none of them may cut it short.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var jobs []*Job
	err := c.db.InTx(ctx, func(tx db.Tx) error {
		rows, err := c.claimer.Claim(ctx, tx.Raw, queues, len(asks))
		if err != nil || len(rows) == 0 {
			return err
		}
		workers := make([]dbsqlc.ProvisionerWorker, len(rows))
		for i := range rows {
			workers[i] = asks[i].worker
		}
		jobs, err = c.prepare(ctx, tx, workers, rows)
		return err
	})
	for i, a := range asks {
		switch {
		case err != nil:
			a.answer <- answer{err: err}
		case i < len(jobs):
			a.answer <- answer{job: jobs[i]}
		default:
			a.answer <- answer{}
		}
	}
}
