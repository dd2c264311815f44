// Package authz decides every operation in one place. It fails closed: a context without an actor is
// refused, and an action that the policy does not name is refused for everyone but the owner role.
package authz

import (
	"context"
	"errors"

	"github.com/google/uuid"
)

// Role is a deployment-wide role. Every user is a member; other roles add to it.
type Role string

// The roles.
const (
	RoleOwner         Role = "owner"
	RoleUserAdmin     Role = "user-admin"
	RoleTemplateAdmin Role = "template-admin"
	RoleAuditor       Role = "auditor"
	RoleMember        Role = "member"
)

// Roles lists every role, in the order they are documented.
var Roles = []Role{RoleOwner, RoleUserAdmin, RoleTemplateAdmin, RoleAuditor, RoleMember}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, k := range Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Actor is who is asking: a user, or a named system component.
type Actor struct {
	// UserID is the user's ID; uuid.Nil for system actors.
	UserID   uuid.UUID
	Username string
	Roles    []Role
	// System names a system actor ("provisioner", "scheduler", "agent"); empty for users.
	System string
	// KeyID is the ID of the session or API token that authenticated the request.
	KeyID string
	// Scopes narrow what the token may do within the roles; empty means ScopeAll.
	Scopes []Scope
	// Groups are the groups the user is a stored member of (Everyone is implied).
	Groups []uuid.UUID
}

func (a Actor) has(r Role) bool {
	if r == RoleMember && a.System == "" {
		return true
	}
	for _, k := range a.Roles {
		if k == r {
			return true
		}
	}
	return false
}

// Errors. ErrUnauthenticated becomes 401; ErrForbidden 403, or 404 where existence must not leak.
var (
	ErrUnauthenticated = errors.New("authentication required")
	ErrForbidden       = errors.New("not allowed")
)

type actorKey struct{}

// WithActor returns a context acting as a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the context's actor, or ErrUnauthenticated when it has none.
func ActorFrom(ctx context.Context) (Actor, error) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	if !ok {
		return Actor{}, ErrUnauthenticated
	}
	return a, nil
}

// AsScheduler, AsProvisioner and AsAgent name the system actors, so every privileged path is greppable.
func AsScheduler(ctx context.Context) context.Context {
	return WithActor(ctx, Actor{System: "scheduler", Roles: []Role{RoleOwner}})
}

// AsProvisioner acts as the provisioner subsystem (reporting job results).
func AsProvisioner(ctx context.Context) context.Context {
	return WithActor(ctx, Actor{System: "provisioner"})
}

// AsAgent acts as a workspace agent.
func AsAgent(ctx context.Context) context.Context {
	return WithActor(ctx, Actor{System: "agent"})
}

// Action is something done to a kind of resource.
type Action string

// Actions.
const (
	ReadSelf   Action = "self:read"
	UpdateSelf Action = "self:update"
	// ManageOwnTokens covers creating, listing and revoking one's own tokens. Only an unscoped
	// credential may do it, so a narrow token cannot mint a broad one.
	ManageOwnTokens     Action = "self:tokens"
	ReadUsers           Action = "users:read"
	ManageUsers         Action = "users:manage"
	ManageAnyTokens     Action = "tokens:manage-any"
	ReadAuditLog        Action = "audit:read"
	ReadTemplates       Action = "templates:read"
	ManageTemplates     Action = "templates:manage"
	ReadWorkspaces      Action = "workspaces:read"
	ReadAnyWorkspaces   Action = "workspaces:read-any"
	ManageOwnWorkspaces Action = "workspaces:manage-own"
	ManageWorkspaces    Action = "workspaces:manage-any"
	ReadProxies         Action = "proxies:read"
	ManageProxies       Action = "proxies:manage"
	ReadGroups          Action = "groups:read"
	ManageGroups        Action = "groups:manage"
)

// policy lists, per action, the roles allowed it. Owners may do everything.
var policy = map[Action][]Role{
	ReadSelf:            {RoleMember},
	UpdateSelf:          {RoleMember},
	ManageOwnTokens:     {RoleMember},
	ReadUsers:           {RoleUserAdmin, RoleAuditor},
	ManageUsers:         {RoleUserAdmin},
	ManageAnyTokens:     {RoleUserAdmin},
	ReadAuditLog:        {RoleAuditor},
	ReadTemplates:       {RoleMember},
	ManageTemplates:     {RoleTemplateAdmin},
	ReadWorkspaces:      {RoleMember},
	ReadAnyWorkspaces:   {RoleTemplateAdmin, RoleAuditor},
	ManageOwnWorkspaces: {RoleMember},
	ManageWorkspaces:    {},
	ReadProxies:         {RoleMember},
	ManageProxies:       {},
	ReadGroups:          {RoleMember},
	ManageGroups:        {RoleUserAdmin},
}

// Scope narrows what an API token may do, whatever its user's roles allow.
type Scope string

// The scopes. A token has one or more; ScopeAll is everything the user may do.
const (
	ScopeAll            Scope = "all"
	ScopeUserRead       Scope = "user:read"
	ScopeWorkspaceRead  Scope = "workspace:read"
	ScopeWorkspaceWrite Scope = "workspace:write"
	ScopeTemplateRead   Scope = "template:read"
	ScopeTemplateWrite  Scope = "template:write"
	ScopeAuditRead      Scope = "audit:read"
)

// Scopes lists every scope, in the order they are documented.
var Scopes = []Scope{ScopeAll, ScopeUserRead, ScopeWorkspaceRead, ScopeWorkspaceWrite, ScopeTemplateRead, ScopeTemplateWrite, ScopeAuditRead}

// scopeActions lists the actions each narrow scope permits. Reading oneself is in every scope, so any
// token can tell whose it is.
var scopeActions = map[Scope][]Action{
	ScopeUserRead:       {ReadSelf, ReadUsers, ReadGroups},
	ScopeWorkspaceRead:  {ReadSelf, ReadTemplates, ReadWorkspaces, ReadAnyWorkspaces, ReadProxies},
	ScopeWorkspaceWrite: {ReadSelf, ReadTemplates, ReadWorkspaces, ReadAnyWorkspaces, ManageOwnWorkspaces, ManageWorkspaces, ReadProxies},
	ScopeTemplateRead:   {ReadSelf, ReadTemplates},
	ScopeTemplateWrite:  {ReadSelf, ReadTemplates, ManageTemplates},
	ScopeAuditRead:      {ReadSelf, ReadAuditLog},
}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool {
	for _, k := range Scopes {
		if s == k {
			return true
		}
	}
	return false
}

func (a Actor) scoped(action Action) bool {
	if len(a.Scopes) == 0 {
		return true
	}
	for _, s := range a.Scopes {
		if s == ScopeAll {
			return true
		}
		for _, k := range scopeActions[s] {
			if k == action {
				return true
			}
		}
	}
	return false
}

// Authorize decides whether the context's actor may do action.
func Authorize(ctx context.Context, action Action) error {
	a, err := ActorFrom(ctx)
	if err != nil {
		return err
	}
	if !a.scoped(action) {
		return ErrForbidden
	}
	if a.has(RoleOwner) {
		return nil
	}
	for _, r := range policy[action] {
		if a.has(r) {
			return nil
		}
	}
	return ErrForbidden
}

// Is reports whether the context's actor has role (owners have every role).
func Is(ctx context.Context, r Role) bool {
	a, err := ActorFrom(ctx)
	return err == nil && (a.has(r) || a.has(RoleOwner))
}
