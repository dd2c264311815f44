package workspace

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/api/access"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

func registerSharing(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	huma.Register(api, op("get-workspace-acl", http.MethodGet, "/api/v2/workspaces/{workspace}/acl", "Get whom a workspace is shared with",
		"Users and groups, each with use (connect, SSH, apps, start and stop) or admin (also update, delete and share)."), h.getACL)
	huma.Register(api, op("update-workspace-acl", http.MethodPatch, "/api/v2/workspaces/{workspace}/acl", "Share a workspace, or stop sharing it",
		"Grants users and groups use or admin, or takes it away (role \"\"); entries not named stay. For the owner and those with admin. "+
			"Whoever loses access loses their open connections within seconds.", http.StatusBadRequest), h.updateACL)
}

// ACLOutput is whom a workspace is shared with.
type ACLOutput struct {
	Body access.List
}

func (h handlers) getACL(ctx context.Context, in *WorkspacePath) (*ACLOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	w, err := h.find(ctx, h.DB.Queries, in.Workspace)
	if err != nil {
		return nil, err
	}
	rows, err := workspaceStore(h.DB.Queries, w).List(ctx)
	if err != nil {
		return nil, err
	}
	return &ACLOutput{Body: access.ToList(rows)}, nil
}

type updateWorkspaceACLInput struct {
	WorkspacePath
	Body access.Change
}

func (h handlers) updateACL(ctx context.Context, in *updateWorkspaceACLInput) (*ACLOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	var after access.List
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		w, err := h.find(ctx, tx.Queries, in.Workspace)
		if err != nil {
			return err
		}
		if err := allowed(ctx, tx.Queries, w.ID, w.OwnerID, authz.AdminWorkspace); err != nil {
			return err
		}
		if w.Deleted {
			return huma.Error409Conflict("The workspace is deleted.")
		}
		if _, err := tx.LockWorkspace(ctx, w.ID); err != nil {
			return err
		}
		grants, err := access.Resolve(ctx, tx.Queries, in.Body)
		if err != nil {
			return err
		}
		for _, g := range grants {
			if g.UserID != nil && *g.UserID == w.OwnerID {
				return huma.Error400BadRequest("The owner has every right on their workspace already.",
					&huma.ErrorDetail{Location: "body.users", Message: "the owner", Value: w.OwnerName})
			}
		}
		var before access.List
		if before, after, err = access.Apply(ctx, workspaceStore(tx.Queries, w), grants); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "workspace", ID: w.ID.String(), Name: w.Name}, audit.Diff(before, after))
	})
	if err != nil {
		return nil, err
	}
	return &ACLOutput{Body: after}, nil
}

// workspaceStore is a workspace's access list.
func workspaceStore(q *dbsqlc.Queries, w dbsqlc.WorkspaceOverview) access.Store {
	return access.Store{
		List: func(ctx context.Context) ([]access.Row, error) {
			rows, err := q.ListWorkspaceGrants(ctx, w.ID)
			out := make([]access.Row, len(rows))
			for i, r := range rows {
				out[i] = access.Row(r)
			}
			return out, err
		},
		Delete: func(ctx context.Context, g access.Grant) error {
			return q.DeleteWorkspaceGrant(ctx, dbsqlc.DeleteWorkspaceGrantParams{WorkspaceID: w.ID, UserID: g.UserID, GroupID: g.GroupID})
		},
		Insert: func(ctx context.Context, g access.Grant) error {
			return q.InsertWorkspaceGrant(ctx, dbsqlc.InsertWorkspaceGrantParams{WorkspaceID: w.ID, UserID: g.UserID, GroupID: g.GroupID, Role: g.Role})
		},
	}
}
