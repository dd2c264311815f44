// Package activity records that workspaces are in use (SSH, terminal, port-forward and app sessions)
// by bumping their last-used time. Touches are collected in memory and written in one statement per
// interval, so a busy workspace costs one row update per interval however many connections it has.
package activity

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/db"
)

// Recorder batches workspace touches.
type Recorder struct {
	db       *db.DB
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]struct{}

	stop chan struct{}
	done chan struct{}
}

// New makes a recorder that writes every interval; Start runs it.
func New(d *db.DB, interval time.Duration, logger *slog.Logger) *Recorder {
	return &Recorder{db: d, interval: interval, logger: logger, pending: map[uuid.UUID]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Touch marks a workspace used now; it is written at the next flush.
func (r *Recorder) Touch(workspace uuid.UUID) {
	r.mu.Lock()
	r.pending[workspace] = struct{}{}
	r.mu.Unlock()
}

// Start flushes every interval until Stop.
func (r *Recorder) Start(ctx context.Context) {
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				r.flush(context.WithoutCancel(ctx))
			}
		}
	}()
}

// Stop writes what is pending and stops.
func (r *Recorder) Stop(ctx context.Context) {
	close(r.stop)
	<-r.done
	r.flush(ctx)
}

func (r *Recorder) flush(ctx context.Context) {
	r.mu.Lock()
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return
	}
	ids := make([]uuid.UUID, 0, len(r.pending))
	for id := range r.pending {
		ids = append(ids, id)
	}
	r.pending = map[uuid.UUID]struct{}{}
	r.mu.Unlock()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := r.db.TouchWorkspaces(c, ids); err != nil {
		r.logger.Warn("activity: recording workspace use failed", "workspaces", len(ids), "error", err)
	}
}
