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
	ReadSelf         Action = "self:read"
	ManageOwnTokens  Action = "self:tokens"
	ReadUsers        Action = "users:read"
	ManageUsers      Action = "users:manage"
	ManageAnyTokens  Action = "tokens:manage-any"
	ReadAuditLog     Action = "audit:read"
	ManageTemplates  Action = "templates:manage"
	ReadTemplates    Action = "templates:read"
	ManageWorkspaces Action = "workspaces:manage-any"
)

// policy lists, per action, the roles allowed it. Owners may do everything.
var policy = map[Action][]Role{
	ReadSelf:         {RoleMember},
	ManageOwnTokens:  {RoleMember},
	ReadUsers:        {RoleUserAdmin, RoleAuditor},
	ManageUsers:      {RoleUserAdmin},
	ManageAnyTokens:  {RoleUserAdmin},
	ReadAuditLog:     {RoleAuditor},
	ManageTemplates:  {RoleTemplateAdmin},
	ReadTemplates:    {RoleMember},
	ManageWorkspaces: {},
}

// Authorize decides whether the context's actor may do action.
func Authorize(ctx context.Context, action Action) error {
	a, err := ActorFrom(ctx)
	if err != nil {
		return err
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
