package workspace

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/schedule"
)

func registerSchedule(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	huma.Register(api, op("update-workspace-ttl", http.MethodPut, "/api/v2/workspaces/{workspace}/ttl", "Set a workspace's autostop",
		"How long the workspace runs after each start before it stops by itself (0: never; null: the template's default), at most the template's maximum. "+
			"It applies from the next start; activity (SSH, terminal, port forwarding, apps) pushes the deadline to this long from the last use, never past the maximum.",
		http.StatusBadRequest, http.StatusConflict), h.setTTL)
	huma.Register(api, op("update-workspace-autostart", http.MethodPut, "/api/v2/workspaces/{workspace}/autostart", "Set a workspace's autostart",
		"A cron schedule (minute hour day-of-month month day-of-week; a CRON_TZ=Zone prefix sets the time zone, UTC otherwise; a sixth field in front gives seconds) at whose times a stopped workspace starts; "+
			"an empty schedule turns autostart off. Occurrences on days the template does not allow are passed over; one that finds the workspace running, failed or mid-build is skipped.",
		http.StatusBadRequest, http.StatusConflict), h.setAutostart)
	huma.Register(api, op("extend-workspace", http.MethodPost, "/api/v2/workspaces/{workspace}/extend", "Extend a running workspace's deadline",
		"Moves the deadline to this long from now, at most to the template's maximum after the start.",
		http.StatusBadRequest, http.StatusConflict), h.extend)
	huma.Register(api, op("update-workspace-dormancy", http.MethodPut, "/api/v2/workspaces/{workspace}/dormant", "Make a workspace dormant or active",
		"A workspace unused for longer than its template's dormancy threshold becomes dormant by itself: it is stopped, cannot start, and is deleted after the template's time to deletion. "+
			"dormant=false makes it active again (counting as a use); dormant=true makes it dormant now, stopping it if it runs.",
		http.StatusConflict), h.setDormant)
}

type dormantInput struct {
	WorkspacePath
	Body struct {
		Dormant bool `json:"dormant" doc:"true makes the workspace dormant; false makes it active again."`
	}
}

func (h handlers) setDormant(ctx context.Context, in *dormantInput) (*WorkspaceOutput, error) {
	return h.change(ctx, in.Workspace, func(tx db.Tx, w dbsqlc.WorkspaceOverview) error {
		if !in.Body.Dormant {
			if w.DormantAt == nil {
				return nil
			}
			return schedule.MarkDormant(ctx, tx, h.River, w.ID, nil)
		}
		if w.DormantAt != nil {
			return nil
		}
		switch w.BuildStatus {
		case "pending", "running", "canceling":
			return huma.Error409Conflict(fmt.Sprintf("Build #%d (%s) of %s is under way; wait for it or cancel it.", w.BuildNumber, w.BuildTransition, w.Name),
				&huma.ErrorDetail{Location: "path.workspace", Message: "a build is under way", Value: w.ID})
		}
		now := time.Now()
		if err := schedule.MarkDormant(ctx, tx, h.River, w.ID, &now); err != nil {
			return err
		}
		if w.BuildTransition != "start" {
			return nil // stopped already
		}
		locked, err := tx.LockWorkspace(ctx, w.ID)
		if err != nil {
			return err
		}
		_, err = h.startBuild(ctx, tx, locked, buildRequest{Transition: "stop"}, false)
		return err
	})
}

type ttlInput struct {
	WorkspacePath
	Body struct {
		TTLSeconds *int64 `json:"ttl_seconds" required:"false" minimum:"0" maximum:"31536000" nullable:"true" doc:"Seconds; 0 never stops; null uses the template's default." example:"28800"`
	}
}

func (h handlers) setTTL(ctx context.Context, in *ttlInput) (*WorkspaceOutput, error) {
	return h.change(ctx, in.Workspace, func(tx db.Tx, w dbsqlc.WorkspaceOverview) error {
		if !w.TemplateAllowUserAutostop && authz.Authorize(ctx, authz.ManageTemplates) != nil {
			return huma.Error403Forbidden("The template " + w.TemplateName + " does not let owners change autostop.")
		}
		if t := in.Body.TTLSeconds; t != nil && w.TemplateMaxTtlSeconds > 0 && (*t == 0 || *t > w.TemplateMaxTtlSeconds) {
			return huma.Error400BadRequest(fmt.Sprintf("The template %s allows at most %s.", w.TemplateName, time.Duration(w.TemplateMaxTtlSeconds)*time.Second),
				&huma.ErrorDetail{Location: "body.ttl_seconds", Message: "above the template's maximum", Value: *t})
		}
		return tx.SetWorkspaceTTL(ctx, dbsqlc.SetWorkspaceTTLParams{ID: w.ID, TtlSeconds: in.Body.TTLSeconds})
	})
}

type autostartInput struct {
	WorkspacePath
	Body struct {
		Schedule string `json:"schedule" maxLength:"256" doc:"A cron schedule, or empty for none." example:"CRON_TZ=Europe/Berlin 30 8 * * 1-5"`
	}
}

func (h handlers) setAutostart(ctx context.Context, in *autostartInput) (*WorkspaceOutput, error) {
	spec := strings.TrimSpace(in.Body.Schedule)
	return h.change(ctx, in.Workspace, func(tx db.Tx, w dbsqlc.WorkspaceOverview) error {
		if spec != "" && !w.TemplateAllowUserAutostart && authz.Authorize(ctx, authz.ManageTemplates) != nil {
			return huma.Error403Forbidden("The template " + w.TemplateName + " does not let owners set autostart.")
		}
		if spec != "" {
			if _, err := schedule.Next(spec, time.Now(), w.TemplateAutostartDays); err != nil {
				return huma.Error400BadRequest(capitalize(err.Error())+".", &huma.ErrorDetail{Location: "body.schedule", Message: err.Error(), Value: spec})
			}
		}
		return schedule.QueueAutostart(ctx, tx, h.River, w.ID, spec, time.Now())
	})
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

type extendInput struct {
	WorkspacePath
	Body struct {
		DurationSeconds int64 `json:"duration_seconds" minimum:"1" maximum:"31536000" doc:"The new deadline, in seconds from now." example:"3600"`
	}
}

func (h handlers) extend(ctx context.Context, in *extendInput) (*WorkspaceOutput, error) {
	return h.change(ctx, in.Workspace, func(tx db.Tx, w dbsqlc.WorkspaceOverview) error {
		if w.Status != "running" || w.Deadline == nil {
			return huma.Error409Conflict("Workspace " + w.Name + " has no deadline to extend: it is " + w.Status + " or does not stop by itself.")
		}
		deadline := time.Now().Add(time.Duration(in.Body.DurationSeconds) * time.Second)
		if w.MaxDeadline != nil && deadline.After(*w.MaxDeadline) {
			return huma.Error400BadRequest(fmt.Sprintf("The template %s lets %s run until %s at the latest.", w.TemplateName, w.Name, w.MaxDeadline.Format(time.RFC3339)),
				&huma.ErrorDetail{Location: "body.duration_seconds", Message: "past the template's maximum", Value: in.Body.DurationSeconds})
		}
		// The autostop job snoozes until the new deadline when it finds it moved.
		return tx.SetWorkspaceDeadline(ctx, dbsqlc.SetWorkspaceDeadlineParams{ID: w.ID, Deadline: &deadline, MaxDeadline: w.MaxDeadline})
	})
}
