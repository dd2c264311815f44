// Package audit records what was done, by whom, to what, and how it ended. A successful change is
// recorded by its handler in the same transaction as the change (Record), so an entry exists exactly
// when the change committed. A refused or failed change is recorded afterwards by the API middleware
// (Finish), with whatever target the handler had noted (Target).
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Request is what the middleware knows of a request before its handler runs.
type Request struct {
	Action    string // the operation ID
	IP        string
	UserAgent string
	RequestID string
	// Status is what the operation answers when it succeeds.
	Status int
}

// Resource names what a change was made to.
type Resource struct {
	Type string
	ID   string
	Name string
}

// Change is one field's value before and after. Secret fields carry neither value, only the fact.
type Change struct {
	Old any `json:"old,omitempty"`
	New any `json:"new,omitempty"`
	// Secret marks a field whose values are never recorded (a password, a key).
	Secret bool `json:"secret,omitempty"`
}

// state is shared between the middleware and the handler through the context.
type state struct {
	Request
	mu       sync.Mutex
	actor    *authz.Actor
	target   Resource
	recorded bool
}

type key struct{}

// Start returns a context that carries the request's audit state.
func Start(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, key{}, &state{Request: r})
}

func from(ctx context.Context) *state {
	s, _ := ctx.Value(key{}).(*state)
	return s
}

// Target notes what the request acts on, for the entry written if it fails.
func Target(ctx context.Context, r Resource) {
	if s := from(ctx); s != nil {
		s.mu.Lock()
		s.target = r
		s.mu.Unlock()
	}
}

// Record writes the entry of a successful change, through q: pass the transaction that makes the change.
func Record(ctx context.Context, q *dbsqlc.Queries, r Resource, diff map[string]Change) error {
	s := from(ctx)
	if s == nil {
		return fmt.Errorf("audit: no request to record (%s %s)", r.Type, r.ID)
	}
	s.mu.Lock()
	s.target = r
	s.mu.Unlock()
	if a, err := authz.ActorFrom(ctx); err == nil {
		s.mu.Lock()
		s.actor = &a
		s.mu.Unlock()
	}
	if err := q.InsertAuditEntry(ctx, s.params(s.Status, "success", diff)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	s.mu.Lock()
	s.recorded = true
	s.mu.Unlock()
	return nil
}

// Recorded reports whether the request's handler recorded its change.
func Recorded(ctx context.Context) bool {
	s := from(ctx)
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recorded
}

// Actor notes who made the request, for entries the handler does not write itself.
func Actor(ctx context.Context, a authz.Actor) {
	if s := from(ctx); s != nil {
		s.mu.Lock()
		s.actor = &a
		s.mu.Unlock()
	}
}

// Skipped writes the entry of a change the system chose not to make (an autostart that found the
// workspace running, say), with why, so it shows in the resource's history.
func Skipped(ctx context.Context, q *dbsqlc.Queries, r Resource, why string) error {
	s := from(ctx)
	if s == nil {
		return fmt.Errorf("audit: no request to record (%s %s)", r.Type, r.ID)
	}
	if a, err := authz.ActorFrom(ctx); err == nil {
		s.mu.Lock()
		s.actor = &a
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.target = r
	s.mu.Unlock()
	if err := q.InsertAuditEntry(ctx, s.params(http.StatusConflict, "failure", map[string]Change{"skipped": {New: why}})); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Finish writes the entry of a change that did not succeed, with the status it ended with.
func Finish(ctx context.Context, q *dbsqlc.Queries, status int) error {
	s := from(ctx)
	if s == nil {
		return nil
	}
	if err := q.InsertAuditEntry(ctx, s.params(status, "failure", nil)); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (s *state) params(status int, result string, diff map[string]Change) dbsqlc.InsertAuditEntryParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw := []byte("{}")
	if len(diff) > 0 {
		raw, _ = json.Marshal(diff) // values come from JSON-encodable API types
	}
	p := dbsqlc.InsertAuditEntryParams{
		Action: s.Action, ResourceType: s.target.Type, ResourceID: s.target.ID, ResourceName: s.target.Name,
		Diff: raw, Ip: s.IP, UserAgent: truncate(s.UserAgent, 512), RequestID: s.RequestID,
		Status: int32(status), Result: result,
	}
	if s.actor != nil {
		p.Username = s.actor.Username
		if s.actor.System != "" {
			p.Username = "system:" + s.actor.System
		}
		if s.actor.UserID != uuid.Nil {
			id := s.actor.UserID
			p.UserID = &id
		}
	}
	return p
}

// ClientIP is the address part of a request's remote address.
func ClientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Diff compares two values of the same JSON-encodable type field by field (by their JSON names) and
// returns the fields that differ. Either may be nil: a creation or a deletion. Fields whose names say
// they hold a secret are marked changed without their values.
func Diff(before, after any) map[string]Change {
	b, a := fields(before), fields(after)
	out := map[string]Change{}
	for k, nv := range a {
		ov, had := b[k]
		if had && reflect.DeepEqual(ov, nv) {
			continue
		}
		out[k] = change(k, ov, nv)
	}
	for k, ov := range b {
		if _, ok := a[k]; !ok {
			out[k] = change(k, ov, nil)
		}
	}
	return out
}

func change(field string, ov, nv any) Change {
	if IsSecret(field) {
		return Change{Secret: true}
	}
	return Change{Old: ov, New: nv}
}

// IsSecret reports whether a field name says it holds a secret.
func IsSecret(field string) bool {
	f := strings.ToLower(field)
	for _, w := range []string{"password", "secret", "token", "hash", "key"} {
		if strings.Contains(f, w) {
			return true
		}
	}
	return false
}

func fields(v any) map[string]any {
	if v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil()) {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	m := map[string]any{}
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}
