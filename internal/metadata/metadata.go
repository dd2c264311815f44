// Package metadata keeps workspace agents' latest metadata values. Agents report them often (two
// items every 10 s each is usual, thousands of agents at once), and only the latest value of each
// matters, so reports go to memory and are written in one statement per interval for every agent:
// the database sees a handful of statements a second however many agents report, and a value
// reported twice within an interval is written once. Reads on this replica see pending values at
// once; other replicas see them after the next flush. A crash loses at most one interval of values,
// which the agents report again at their next interval anyway.
package metadata

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/flusher"
)

// Value is an item's latest measurement.
type Value struct {
	Value       string
	Error       string
	CollectedAt time.Time
}

// Buffer collects reports and writes them every interval.
type Buffer struct {
	db  *db.DB
	log *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]map[string]Value

	// Start and Stop run the writes.
	*flusher.Loop
}

// New makes a buffer that writes every interval; Start runs it, Stop writes what is left.
func New(d *db.DB, interval time.Duration, log *slog.Logger) *Buffer {
	b := &Buffer{db: d, log: log, pending: map[uuid.UUID]map[string]Value{}}
	b.Loop = flusher.New(interval, b.Flush)
	return b
}

// Report records an agent's values; each keeps the newest by collection time.
func (b *Buffer) Report(agent uuid.UUID, values map[string]Value) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := b.pending[agent]
	if m == nil {
		m = make(map[string]Value, len(values))
		b.pending[agent] = m
	}
	for k, v := range values {
		if old, ok := m[k]; !ok || !v.CollectedAt.Before(old.CollectedAt) {
			m[k] = v
		}
	}
}

// Pending returns an agent's values not written yet.
func (b *Buffer) Pending(agent uuid.UUID) map[string]Value {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]Value, len(b.pending[agent]))
	for k, v := range b.pending[agent] {
		out[k] = v
	}
	return out
}

// Flush writes every pending value in one statement. Values that fail to write are dropped with a
// warning: agents report them again.
func (b *Buffer) Flush(ctx context.Context) {
	b.mu.Lock()
	pending := b.pending
	b.pending = map[uuid.UUID]map[string]Value{}
	b.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	var p dbsqlc.UpsertAgentMetadataBatchParams
	for agent, values := range pending {
		for k, v := range values {
			p.AgentID = append(p.AgentID, agent)
			p.Key = append(p.Key, k)
			p.Value = append(p.Value, v.Value)
			p.Error = append(p.Error, v.Error)
			p.CollectedAt = append(p.CollectedAt, v.CollectedAt)
		}
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.db.UpsertAgentMetadataBatch(c, p); err != nil {
		b.log.Warn("metadata: writing agents' metadata failed; they report it again", "agents", len(pending), "values", len(p.Key), "error", err)
	}
}
