// Package pgnotify wakes waiters when PostgreSQL delivers a NOTIFY on a channel. One connection per
// process listens; any number of goroutines wait for payloads (a provisioner queue name, say) without
// polling. A notification sent in a transaction arrives only if it commits, so a waiter is woken
// exactly for work that exists.
package pgnotify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Listener listens on one channel and wakes waiters by payload.
type Listener struct {
	pool    *pgxpool.Pool
	channel string
	log     *slog.Logger

	mu      sync.Mutex
	waiters map[string]map[*waiter]struct{}
	each    []func(payload string)
	done    chan struct{}
	cancel  context.CancelFunc
}

// Listen starts listening on channel until Close.
func Listen(ctx context.Context, pool *pgxpool.Pool, channel string, log *slog.Logger) (*Listener, error) {
	l := &Listener{pool: pool, channel: channel, log: log, waiters: map[string]map[*waiter]struct{}{}, done: make(chan struct{})}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go l.run(ctx, conn)
	return l, nil
}

func (l *Listener) connect(ctx context.Context) (*pgxpool.Conn, error) {
	conn, err := l.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgnotify: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		conn.Release()
		return nil, fmt.Errorf("pgnotify: listen: %w", err)
	}
	return conn, nil
}

func (l *Listener) run(ctx context.Context, conn *pgxpool.Conn) {
	defer close(l.done)
	for {
		n, err := conn.Conn().WaitForNotification(ctx)
		if err == nil {
			l.wake(n.Payload)
			continue
		}
		// The connection is unusable after an interrupted wait: drop it.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("pgnotify: lost the listening connection; reconnecting", "channel", l.channel, "error", err)
		l.wakeAll() // anything may have been missed
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			if conn, err = l.connect(ctx); err == nil {
				break
			}
		}
	}
}

// Subscription is a registered interest in payloads; C is closed at the first notification with one
// of them. Subscribe before checking for work, then wait on C, so nothing sent in between is missed.
type Subscription struct {
	l        *Listener
	w        *waiter
	payloads []string
}

// Subscribe registers interest in payloads until the subscription is closed.
func (l *Listener) Subscribe(payloads ...string) *Subscription {
	w := &waiter{ch: make(chan struct{})}
	l.mu.Lock()
	for _, p := range payloads {
		if l.waiters[p] == nil {
			l.waiters[p] = map[*waiter]struct{}{}
		}
		l.waiters[p][w] = struct{}{}
	}
	l.mu.Unlock()
	return &Subscription{l: l, w: w, payloads: payloads}
}

// C is closed at the first matching notification, or when the listener stops.
func (s *Subscription) C() <-chan struct{} { return s.w.ch }

// Close unregisters the subscription.
func (s *Subscription) Close() {
	s.l.mu.Lock()
	for _, p := range s.payloads {
		delete(s.l.waiters[p], s.w)
		if len(s.l.waiters[p]) == 0 {
			delete(s.l.waiters, p)
		}
	}
	s.l.mu.Unlock()
}

// Wait blocks until a notification with one of payloads arrives (true), or ctx ends (false).
func (l *Listener) Wait(ctx context.Context, payloads ...string) bool {
	s := l.Subscribe(payloads...)
	defer s.Close()
	select {
	case <-s.C():
		return true
	case <-ctx.Done():
		return false
	}
}

type waiter struct {
	ch    chan struct{}
	woken bool
}

// OnEach calls fn with the payload of every notification on the channel, from the listening
// goroutine (so fn must be quick), and with "" when notifications may have been missed (the
// listening connection was lost and is back).
func (l *Listener) OnEach(fn func(payload string)) {
	l.mu.Lock()
	l.each = append(l.each, fn)
	l.mu.Unlock()
}

func (l *Listener) wake(payload string) {
	l.mu.Lock()
	for w := range l.waiters[payload] {
		w.wake()
	}
	each := l.each
	l.mu.Unlock()
	for _, fn := range each {
		fn(payload)
	}
}

func (l *Listener) wakeAll() {
	l.mu.Lock()
	for _, set := range l.waiters {
		for w := range set {
			w.wake()
		}
	}
	each := l.each
	l.mu.Unlock()
	for _, fn := range each {
		fn("")
	}
}

// wake is called with the listener's lock held.
func (w *waiter) wake() {
	if !w.woken {
		w.woken = true
		close(w.ch)
	}
}

// Notify sends payload on channel through q (a transaction: delivered only if it commits).
func Notify(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, channel, payload string) error {
	if _, err := q.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return fmt.Errorf("pgnotify: notify: %w", err)
	}
	return nil
}

// Close stops listening and wakes every waiter.
func (l *Listener) Close() error {
	l.cancel()
	<-l.done
	l.wakeAll()
	return nil
}
