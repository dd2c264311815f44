// Package flusher runs a flush every interval until stopped, and once more when stopping: the loop
// under the components that collect writes in memory and send them in batches (workspace activity,
// agent metadata).
package flusher

import (
	"context"
	"time"
)

// Loop calls Flush every Interval between Start and Stop.
type Loop struct {
	interval time.Duration
	flush    func(context.Context)
	stop     chan struct{}
	done     chan struct{}
}

// New makes a loop that calls flush every interval.
func New(interval time.Duration, flush func(context.Context)) *Loop {
	return &Loop{interval: interval, flush: flush, stop: make(chan struct{}), done: make(chan struct{})}
}

// Start flushes every interval until Stop; the flushes outlive ctx's cancellation (Stop ends them).
func (l *Loop) Start(ctx context.Context) {
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.flush(context.WithoutCancel(ctx))
			}
		}
	}()
}

// Stop ends the loop and flushes what is left, within ctx.
func (l *Loop) Stop(ctx context.Context) {
	close(l.stop)
	<-l.done
	l.flush(ctx)
}
