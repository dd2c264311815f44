package authz_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/authz"
)

func TestTemplateAccessFollowsTheAccessList(t *testing.T) {
	t.Parallel()
	ada, bob, eng := uuid.New(), uuid.New(), uuid.New()
	everyone := authz.Everyone
	toAda := []authz.Grant{{UserID: &ada, Role: authz.AccessAdmin}}
	toEng := []authz.Grant{{GroupID: &eng, Role: authz.AccessUse}}
	toEveryone := []authz.Grant{{GroupID: &everyone, Role: authz.AccessUse}}
	for _, tc := range []struct {
		name   string
		actor  authz.Actor
		action authz.Action
		grants []authz.Grant
		ok     bool
	}{
		{"a member named nowhere does not see it", authz.Actor{UserID: bob}, authz.UseTemplate, toAda, false},
		{"a member of a granted group uses it", authz.Actor{UserID: bob, Groups: []uuid.UUID{eng}}, authz.UseTemplate, toEng, true},
		{"but does not change it", authz.Actor{UserID: bob, Groups: []uuid.UUID{eng}}, authz.AdminTemplate, toEng, false},
		{"a grant to Everyone reaches every user", authz.Actor{UserID: bob}, authz.UseTemplate, toEveryone, true},
		{"but no system actor", authz.Actor{System: "agent"}, authz.UseTemplate, toEveryone, false},
		{"a user granted admin changes it", authz.Actor{UserID: ada}, authz.AdminTemplate, toAda, true},
		{"an admin of one template cannot touch another", authz.Actor{UserID: ada}, authz.AdminTemplate, toEng, false},
		{"template admins change every template", authz.Actor{UserID: bob, Roles: []authz.Role{authz.RoleTemplateAdmin}}, authz.AdminTemplate, nil, true},
		{"auditors see every template", authz.Actor{UserID: bob, Roles: []authz.Role{authz.RoleAuditor}}, authz.UseTemplate, nil, true},
		{"but change none", authz.Actor{UserID: bob, Roles: []authz.Role{authz.RoleAuditor}}, authz.AdminTemplate, nil, false},
		{"a read-only token cannot use admin", authz.Actor{UserID: ada, Scopes: []authz.Scope{authz.ScopeTemplateRead}}, authz.AdminTemplate, toAda, false},
	} {
		err := authz.AuthorizeTemplate(authz.WithActor(context.Background(), tc.actor), tc.action, tc.grants)
		if tc.ok {
			require.NoError(t, err, tc.name)
		} else {
			require.ErrorIs(t, err, authz.ErrForbidden, tc.name)
		}
	}
}

func TestWorkspaceAccessFollowsOwnerAndSharing(t *testing.T) {
	t.Parallel()
	owner, bob, carol, eng := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	shared := authz.Workspace{Owner: owner, Grants: []authz.Grant{{UserID: &bob, Role: authz.AccessUse}, {GroupID: &eng, Role: authz.AccessAdmin}}}
	for _, tc := range []struct {
		name   string
		actor  authz.Actor
		action authz.Action
		ok     bool
	}{
		{"the owner administers it", authz.Actor{UserID: owner}, authz.AdminWorkspace, true},
		{"a user it is shared with for use connects", authz.Actor{UserID: bob}, authz.UseWorkspace, true},
		{"and opens its apps", authz.Actor{UserID: bob}, authz.OpenWorkspaceApps, true},
		{"but does not delete or share it", authz.Actor{UserID: bob}, authz.AdminWorkspace, false},
		{"a member of a group with admin does", authz.Actor{UserID: carol, Groups: []uuid.UUID{eng}}, authz.AdminWorkspace, true},
		{"another member does not see it", authz.Actor{UserID: carol}, authz.ReadWorkspace, false},
		{"template admins see it", authz.Actor{UserID: carol, Roles: []authz.Role{authz.RoleTemplateAdmin}}, authz.ReadWorkspace, true},
		{"but do not connect", authz.Actor{UserID: carol, Roles: []authz.Role{authz.RoleTemplateAdmin}}, authz.UseWorkspace, false},
		{"owners (the role) connect", authz.Actor{UserID: carol, Roles: []authz.Role{authz.RoleOwner}}, authz.UseWorkspace, true},
		{"but do not open the owner's apps", authz.Actor{UserID: carol, Roles: []authz.Role{authz.RoleOwner}}, authz.OpenWorkspaceApps, false},
		{"a read-only token of a grantee does not connect", authz.Actor{UserID: bob, Scopes: []authz.Scope{authz.ScopeWorkspaceRead}}, authz.UseWorkspace, false},
	} {
		err := authz.AuthorizeWorkspace(authz.WithActor(context.Background(), tc.actor), tc.action, shared)
		if tc.ok {
			require.NoError(t, err, tc.name)
		} else {
			require.ErrorIs(t, err, authz.ErrForbidden, tc.name)
		}
	}
}
