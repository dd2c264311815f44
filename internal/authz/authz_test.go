package authz_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/authz"
)

func TestNoActorIsRefused(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, authz.Authorize(context.Background(), authz.ReadSelf), authz.ErrUnauthenticated)
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		roles  []authz.Role
		action authz.Action
		ok     bool
	}{
		{nil, authz.ReadSelf, true},
		{nil, authz.ManageUsers, false},
		{nil, authz.ManageTemplates, false},
		{[]authz.Role{authz.RoleUserAdmin}, authz.ManageUsers, true},
		{[]authz.Role{authz.RoleUserAdmin}, authz.ManageTemplates, false},
		{[]authz.Role{authz.RoleTemplateAdmin}, authz.ManageTemplates, true},
		{[]authz.Role{authz.RoleAuditor}, authz.ReadAuditLog, true},
		{[]authz.Role{authz.RoleAuditor}, authz.ManageUsers, false},
		{[]authz.Role{authz.RoleOwner}, authz.ManageWorkspaces, true},
		{[]authz.Role{authz.RoleTemplateAdmin}, authz.ManageWorkspaces, false},
		{[]authz.Role{authz.RoleOwner}, authz.Action("never-declared"), true},
		{[]authz.Role{authz.RoleUserAdmin}, authz.Action("never-declared"), false},
	} {
		ctx := authz.WithActor(context.Background(), authz.Actor{UserID: uuid.New(), Roles: tc.roles})
		err := authz.Authorize(ctx, tc.action)
		if tc.ok {
			require.NoError(t, err, "%v %s", tc.roles, tc.action)
		} else {
			require.ErrorIs(t, err, authz.ErrForbidden, "%v %s", tc.roles, tc.action)
		}
	}
}

func TestSystemActorsAreNotMembers(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, authz.Authorize(authz.AsAgent(context.Background()), authz.ReadSelf), authz.ErrForbidden)
	require.NoError(t, authz.Authorize(authz.AsScheduler(context.Background()), authz.ManageWorkspaces))
}

func TestScopesNarrowRoles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		roles  []authz.Role
		scopes []authz.Scope
		action authz.Action
		ok     bool
	}{
		{nil, nil, authz.ManageOwnTokens, true},
		{nil, []authz.Scope{authz.ScopeAll}, authz.ManageOwnTokens, true},
		{nil, []authz.Scope{authz.ScopeWorkspaceRead}, authz.ReadWorkspaces, true},
		{nil, []authz.Scope{authz.ScopeWorkspaceRead}, authz.ManageOwnWorkspaces, false},
		{nil, []authz.Scope{authz.ScopeWorkspaceRead}, authz.ManageOwnTokens, false},
		{nil, []authz.Scope{authz.ScopeWorkspaceRead, authz.ScopeWorkspaceWrite}, authz.ManageOwnWorkspaces, true},
		// A scope never adds to the roles: a member's template:write token cannot manage templates.
		{nil, []authz.Scope{authz.ScopeTemplateWrite}, authz.ManageTemplates, false},
		{[]authz.Role{authz.RoleOwner}, []authz.Scope{authz.ScopeAuditRead}, authz.ReadAuditLog, true},
		{[]authz.Role{authz.RoleOwner}, []authz.Scope{authz.ScopeAuditRead}, authz.ManageUsers, false},
	} {
		ctx := authz.WithActor(context.Background(), authz.Actor{UserID: uuid.New(), Roles: tc.roles, Scopes: tc.scopes})
		err := authz.Authorize(ctx, tc.action)
		if tc.ok {
			require.NoError(t, err, "%v %v %s", tc.roles, tc.scopes, tc.action)
		} else {
			require.ErrorIs(t, err, authz.ErrForbidden, "%v %v %s", tc.roles, tc.scopes, tc.action)
		}
	}
}
