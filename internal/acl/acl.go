// Package acl reads templates' and workspaces' access lists from the database in the form the
// authorization layer (internal/authz) decides on. It decides nothing itself.
package acl

import (
	"context"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Template is a template's access list.
func Template(ctx context.Context, q *dbsqlc.Queries, id uuid.UUID) ([]authz.Grant, error) {
	rows, err := q.ListTemplateGrants(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]authz.Grant, len(rows))
	for i, r := range rows {
		out[i] = authz.Grant{UserID: r.UserID, GroupID: r.GroupID, Role: authz.Access(r.Role)}
	}
	return out, nil
}

// Workspace is a workspace as authorization sees it. The access list is read only when it can
// matter: not for the owner acting on their own workspace (the common case, kept free of a query).
func Workspace(ctx context.Context, q *dbsqlc.Queries, id, owner uuid.UUID) (authz.Workspace, error) {
	w := authz.Workspace{Owner: owner}
	if a, err := authz.ActorFrom(ctx); err == nil && a.System == "" && a.UserID == owner {
		return w, nil
	}
	rows, err := q.ListWorkspaceGrants(ctx, id)
	if err != nil {
		return w, err
	}
	w.Grants = make([]authz.Grant, len(rows))
	for i, r := range rows {
		w.Grants[i] = authz.Grant{UserID: r.UserID, GroupID: r.GroupID, Role: authz.Access(r.Role)}
	}
	return w, nil
}
