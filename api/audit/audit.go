// Package audit serves the audit log to owners and auditors. Entries are written by the operations
// themselves (internal/audit); this package only reads them.
package audit

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Deps are what the audit resource needs.
type Deps struct {
	DB       *db.DB
	Security []map[string][]string
}

// Entry is one audit log entry.
type Entry struct {
	ID           int64          `json:"id"`
	Time         time.Time      `json:"time"`
	UserID       *uuid.UUID     `json:"user_id,omitempty" doc:"Who acted; empty for sign-in attempts by unknown users and first-run set-up."`
	Username     string         `json:"username" doc:"The user's name then, or system:<component> for system actors."`
	Action       string         `json:"action" doc:"The API operation ID." example:"update-user"`
	ResourceType string         `json:"resource_type" example:"user"`
	ResourceID   string         `json:"resource_id"`
	ResourceName string         `json:"resource_name"`
	Diff         map[string]any `json:"diff" doc:"Changed fields: {field: {old, new}}; secret fields only say secret: true."`
	IP           string         `json:"ip"`
	UserAgent    string         `json:"user_agent"`
	RequestID    string         `json:"request_id"`
	Status       int            `json:"status" doc:"The HTTP status the request ended with."`
	Result       string         `json:"result" enum:"success,failure"`
}

// Register adds the operations.
func Register(api huma.API, d Deps) {
	huma.Register(api, huma.Operation{
		OperationID: "list-audit-entries",
		Method:      http.MethodGet,
		Path:        "/api/v2/audit",
		Summary:     "Read the audit log",
		Description: "Every change made through the API, newest first, for owners and auditors. Page with before: the id of the last entry you have.",
		Tags:        []string{"Audit"},
		Security:    d.Security,
		Errors:      []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, in *listInput) (*ListOutput, error) {
		if err := authz.Authorize(ctx, authz.ReadAuditLog); err != nil {
			return nil, err
		}
		p := dbsqlc.ListAuditEntriesParams{
			Before: in.Before, Username: in.Username, Action: in.Action, ResourceType: in.ResourceType,
			ResourceID: in.ResourceID, Result: in.Result, MaxRows: in.Limit,
		}
		if !in.Since.IsZero() {
			p.Since = &in.Since
		}
		if !in.Until.IsZero() {
			p.Until = &in.Until
		}
		rows, err := d.DB.ListAuditEntries(ctx, p)
		if err != nil {
			return nil, err
		}
		out := &ListOutput{}
		out.Body.Entries = make([]Entry, 0, len(rows))
		for _, r := range rows {
			e := Entry{ID: r.ID, Time: r.Time, UserID: r.UserID, Username: r.Username, Action: r.Action,
				ResourceType: r.ResourceType, ResourceID: r.ResourceID, ResourceName: r.ResourceName, IP: r.Ip,
				UserAgent: r.UserAgent, RequestID: r.RequestID, Status: int(r.Status), Result: r.Result, Diff: map[string]any{}}
			_ = json.Unmarshal(r.Diff, &e.Diff) // written by us as a JSON object
			out.Body.Entries = append(out.Body.Entries, e)
		}
		return out, nil
	})
}

type listInput struct {
	Username     string    `query:"username" maxLength:"64" doc:"Only what this user did."`
	Action       string    `query:"action" maxLength:"64" doc:"Only this operation ID." example:"delete-user"`
	ResourceType string    `query:"resource_type" maxLength:"32" example:"user"`
	ResourceID   string    `query:"resource_id" maxLength:"64"`
	Result       string    `query:"result" enum:"success,failure"`
	Since        time.Time `query:"since" doc:"Only entries at or after this time (RFC 3339)."`
	Until        time.Time `query:"until" doc:"Only entries before this time (RFC 3339)."`
	Before       int64     `query:"before" minimum:"0" doc:"Only entries older than this entry ID (the last ID of the previous page)."`
	Limit        int32     `query:"limit" minimum:"1" maximum:"500" default:"100"`
}

// ListOutput is a page of entries.
type ListOutput struct {
	Body struct {
		Entries []Entry `json:"entries"`
	}
}
