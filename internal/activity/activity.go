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
	"github.com/hearthdev/hearth/internal/flusher"
)

// Recorder batches workspace touches.
type Recorder struct {
	db     *db.DB
	logger *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]struct{}

	// Start and Stop run the writes.
	*flusher.Loop
}

// New makes a recorder that writes every interval; Start runs it, Stop writes what is left.
func New(d *db.DB, interval time.Duration, logger *slog.Logger) *Recorder {
	r := &Recorder{db: d, logger: logger, pending: map[uuid.UUID]struct{}{}}
	r.Loop = flusher.New(interval, r.flush)
	return r
}

// Touch marks a workspace used now; it is written at the next flush.
func (r *Recorder) Touch(workspace uuid.UUID) {
	r.mu.Lock()
	r.pending[workspace] = struct{}{}
	r.mu.Unlock()
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
