// Package schedule reads workspace autostart schedules: cron expressions with an optional time zone,
// CRON_TZ=Europe/Berlin 30 8 * * 1-5 (minute, hour, day of month, month, day of week; a sixth field in
// front gives seconds).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/jobs/jobargs"
)

var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse checks a schedule and says what is wrong with one that is not valid.
func Parse(spec string) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("the schedule is empty")
	}
	if rest, ok := strings.CutPrefix(spec, "CRON_TZ="); ok {
		zone, _, _ := strings.Cut(rest, " ")
		if _, err := time.LoadLocation(zone); err != nil || zone == "" {
			return nil, fmt.Errorf("unknown time zone %q (use an IANA name such as Europe/Berlin)", zone)
		}
	}
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron schedule (minute hour day-of-month month day-of-week, e.g. CRON_TZ=Europe/Berlin 30 8 * * 1-5): %w", spec, err)
	}
	return s, nil
}

// Next is the schedule's first time after after that falls on one of the allowed days (mon ... sun,
// in the schedule's time zone), truncated to the second. It errs when there is none within a year.
func Next(spec string, after time.Time, allowedDays []string) (time.Time, error) {
	s, err := Parse(spec)
	if err != nil {
		return time.Time{}, err
	}
	loc := location(spec)
	t := after
	for range 10_000 {
		t = s.Next(t)
		if t.IsZero() || t.Sub(after) > 366*24*time.Hour {
			break
		}
		day := strings.ToLower(t.In(loc).Weekday().String()[:3])
		if len(allowedDays) == 0 || slices.Contains(allowedDays, day) {
			return t.Truncate(time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q never falls on a day the template allows (%s)", spec, strings.Join(allowedDays, ", "))
}

// location is a schedule's time zone (UTC without a CRON_TZ= prefix); days are counted there.
func location(spec string) *time.Location {
	rest, ok := strings.CutPrefix(strings.TrimSpace(spec), "CRON_TZ=")
	if !ok {
		return time.UTC
	}
	zone, _, _ := strings.Cut(rest, " ")
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// DefaultQuietHours is when an owner's day ends unless they say otherwise.
const DefaultQuietHours = "CRON_TZ=UTC 0 0 * * *"

// RequiredStop is when a workspace started at start must stop under its template's autostop
// requirement: the owner's quiet hours (DefaultQuietHours when empty) on one of days, at least an
// hour after the start so a late start is not cut short. ok is false when days is empty.
func RequiredStop(quietHours string, days []string, start time.Time) (at time.Time, ok bool) {
	if len(days) == 0 {
		return time.Time{}, false
	}
	if quietHours == "" {
		quietHours = DefaultQuietHours
	}
	at, err := Next(quietHours, start.Add(time.Hour), days)
	if err != nil { // stored schedules were checked; fall back rather than never stop
		at, err = Next(DefaultQuietHours, start.Add(time.Hour), days)
	}
	return at, err == nil
}

// QueueFailureStop queues the stop of a workspace whose start build failed, at its template's
// failure TTL from now, in tx; nothing when the template has none.
func QueueFailureStop(ctx context.Context, tx db.Tx, client *river.Client[pgx.Tx], b dbsqlc.WorkspaceBuild) error {
	if b.Transition != "start" || b.Status != "failed" {
		return nil
	}
	w, err := tx.GetWorkspace(ctx, b.WorkspaceID)
	if err != nil || w.TemplateFailureTtlSeconds <= 0 {
		return err
	}
	at := time.Now().Add(time.Duration(w.TemplateFailureTtlSeconds) * time.Second)
	_, err = client.InsertTx(ctx, tx.Raw, jobargs.WorkspaceFailureStop{WorkspaceID: w.ID.String(), BuildID: b.ID.String()},
		&river.InsertOpts{Queue: jobargs.QueueLifecycle, ScheduledAt: at, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	return err
}

// MarkDormant makes a workspace dormant since at, or active again when at is nil, in tx. A dormant
// workspace whose template deletes dormant workspaces gets the job that deletes it.
func MarkDormant(ctx context.Context, tx db.Tx, client *river.Client[pgx.Tx], id uuid.UUID, at *time.Time) error {
	if at != nil {
		t := at.Truncate(time.Second)
		at = &t
	}
	if err := tx.SetWorkspaceDormant(ctx, dbsqlc.SetWorkspaceDormantParams{ID: id, DormantAt: at}); err != nil || at == nil {
		return err
	}
	w, err := tx.GetWorkspace(ctx, id)
	if err != nil || w.TemplateDormancyDeleteSeconds <= 0 {
		return err
	}
	_, err = client.InsertTx(ctx, tx.Raw, jobargs.WorkspaceDormantDelete{WorkspaceID: id.String(), DormantAt: at.Unix()},
		&river.InsertOpts{Queue: jobargs.QueueLifecycle, ScheduledAt: at.Add(time.Duration(w.TemplateDormancyDeleteSeconds) * time.Second),
			MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	return err
}

// QueueAutostart records a workspace's autostart schedule and its next occurrence after after, and
// queues that occurrence's job, all in tx; an empty schedule clears it. The template's allowed days
// apply. Jobs of occurrences queued before do nothing when they find next_autostart_at changed.
func QueueAutostart(ctx context.Context, tx db.Tx, client *river.Client[pgx.Tx], id uuid.UUID, spec string, after time.Time) error {
	if spec == "" {
		return tx.SetWorkspaceAutostart(ctx, dbsqlc.SetWorkspaceAutostartParams{ID: id})
	}
	w, err := tx.GetWorkspace(ctx, id)
	if err != nil {
		return err
	}
	next, err := Next(spec, after, w.TemplateAutostartDays)
	if err != nil {
		return err
	}
	if err := tx.SetWorkspaceAutostart(ctx, dbsqlc.SetWorkspaceAutostartParams{ID: id, AutostartSchedule: spec, NextAutostartAt: &next}); err != nil {
		return err
	}
	_, err = client.InsertTx(ctx, tx.Raw, jobargs.WorkspaceAutostart{WorkspaceID: id.String(), At: next.Unix()},
		&river.InsertOpts{Queue: jobargs.QueueLifecycle, ScheduledAt: next, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	return err
}
