package authz

import (
	"context"
	"slices"

	"github.com/google/uuid"
)

// Everyone is the group every user belongs to. Its members are not stored, so an actor's Groups do
// not list it; a grant to it applies to every user.
var Everyone = uuid.MustParse("00000000-0000-0000-0000-00000000e0e0")

// PrebuildsOwner is the system user that owns prebuilt workspaces until someone claims them. It
// never signs in and holds no roles.
var PrebuildsOwner = uuid.MustParse("c42fdf75-3097-471c-8c33-fb52454d81c0")

// Access is a role on one template or one workspace, granted by its access list.
type Access string

// The access roles, each including the one before.
const (
	AccessNone  Access = ""
	AccessUse   Access = "use"
	AccessAdmin Access = "admin"
)

// Valid reports whether r is a role that can be granted.
func (r Access) Valid() bool { return r == AccessUse || r == AccessAdmin }

func (r Access) rank() int {
	switch r {
	case AccessUse:
		return 1
	case AccessAdmin:
		return 2
	}
	return 0
}

// Grant is one entry of an access list: a role for one user or one group.
type Grant struct {
	UserID  *uuid.UUID
	GroupID *uuid.UUID
	Role    Access
}

// granted is the highest role the grants give the actor, directly or through a group.
func (a Actor) granted(grants []Grant) Access {
	best := AccessNone
	for _, g := range grants {
		mine := (g.UserID != nil && a.System == "" && *g.UserID == a.UserID) ||
			(g.GroupID != nil && a.System == "" && (*g.GroupID == Everyone || slices.Contains(a.Groups, *g.GroupID)))
		if mine && g.Role.rank() > best.rank() {
			best = g.Role
		}
	}
	return best
}

// Template actions, decided against the template's access list.
const (
	// UseTemplate is seeing a template and creating workspaces from it.
	UseTemplate Action = "template:use"
	// AdminTemplate is changing a template: its settings, versions, access list, deletion.
	AdminTemplate Action = "template:admin"
)

// AuthorizeTemplate decides whether the actor may do action to a template with these grants.
// Template admins (the role) and owners may do anything to every template; anyone else only what
// the template's access list gives them, so an admin of one template cannot touch another.
func AuthorizeTemplate(ctx context.Context, action Action, grants []Grant) error {
	a, err := ActorFrom(ctx)
	if err != nil {
		return err
	}
	switch action {
	case UseTemplate:
		if !a.scoped(ReadTemplates) {
			return ErrForbidden
		}
		if a.has(RoleOwner) || a.has(RoleTemplateAdmin) || a.has(RoleAuditor) || a.granted(grants).rank() >= AccessUse.rank() {
			return nil
		}
	case AdminTemplate:
		if Authorize(ctx, ManageTemplates) == nil {
			return nil
		}
		if a.scoped(ManageTemplates) && a.granted(grants) == AccessAdmin {
			return nil
		}
	}
	return ErrForbidden
}

// SeesAllTemplates reports whether the actor sees every template whatever its access list says.
func SeesAllTemplates(ctx context.Context) bool {
	a, err := ActorFrom(ctx)
	return err == nil && (a.has(RoleOwner) || a.has(RoleTemplateAdmin) || a.has(RoleAuditor))
}

// Workspace is what deciding on one workspace needs: its owner and access list.
type Workspace struct {
	Owner  uuid.UUID
	Grants []Grant
}

// Workspace actions, decided against the workspace's owner and access list.
const (
	// ReadWorkspace is seeing a workspace, its builds, agents and logs.
	ReadWorkspace Action = "workspace:read"
	// UseWorkspace is connecting to it (SSH, port forwarding, terminal, apps) and starting or stopping it.
	UseWorkspace Action = "workspace:use"
	// AdminWorkspace is also updating, renaming, deleting and sharing it.
	AdminWorkspace Action = "workspace:admin"
	// OpenWorkspaceApps is opening its apps shared at the owner level (and its terminal app): the
	// owner and those it is shared with, never a deployment role, since an app's page acts in the
	// browser of whoever opens it.
	OpenWorkspaceApps Action = "workspace:apps"
)

// AuthorizeWorkspace decides whether the actor may do action to w. The owner may do everything
// their token's scopes allow; owners (the role) too; template admins and auditors may read any;
// everyone else only what the workspace's access list gives them.
func AuthorizeWorkspace(ctx context.Context, action Action, w Workspace) error {
	a, err := ActorFrom(ctx)
	if err != nil {
		return err
	}
	mine := a.System == "" && a.UserID == w.Owner
	role := a.granted(w.Grants)
	switch action {
	case ReadWorkspace:
		if !a.scoped(ReadWorkspaces) {
			return ErrForbidden
		}
		if mine || role != AccessNone || Authorize(ctx, ReadAnyWorkspaces) == nil {
			return nil
		}
	case OpenWorkspaceApps:
		if a.scoped(ManageOwnWorkspaces) && (mine || role != AccessNone) {
			return nil
		}
	case UseWorkspace, AdminWorkspace:
		if Authorize(ctx, ManageWorkspaces) == nil {
			return nil
		}
		if !a.scoped(ManageOwnWorkspaces) {
			return ErrForbidden
		}
		if mine || role == AccessAdmin || (action == UseWorkspace && role == AccessUse) {
			return nil
		}
	}
	return ErrForbidden
}

// VisibleGroups is the actor's groups for listing what is shared with them: their stored groups and
// Everyone.
func (a Actor) VisibleGroups() []uuid.UUID {
	return append([]uuid.UUID{Everyone}, a.Groups...)
}
