package users

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/schedule"
)

func registerAdmin(api huma.API, h handlers) {
	op := func(id, method, path, summary, description string, status int, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: description,
			Tags: []string{"Users"}, Security: h.Security, DefaultStatus: status,
			Errors: append([]int{http.StatusUnauthorized}, errs...)}
	}
	const one = "/api/v2/users/{user}"
	huma.Register(api, op("create-user", http.MethodPost, "/api/v2/users", "Create a user",
		"For user admins. Without a password the user signs in only with OIDC. Only owners grant the owner role.",
		http.StatusCreated, http.StatusForbidden, http.StatusConflict), h.create)
	huma.Register(api, op("list-users", http.MethodGet, "/api/v2/users", "List users",
		"For user admins and auditors. Searches username, email and name; pages with limit and offset.",
		0, http.StatusForbidden), h.list)
	huma.Register(api, op("get-user", http.MethodGet, one, "Get a user",
		"The user is me, an ID or a username. Others than yourself need the user-admin or auditor role; to anyone else they do not exist (404).",
		0, http.StatusNotFound), h.get)
	huma.Register(api, op("update-user", http.MethodPatch, one, "Update a user's profile",
		"Your own, or anyone's for user admins. Only the fields sent change.",
		0, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict), h.update)
	huma.Register(api, op("update-user-roles", http.MethodPut, one+"/roles", "Set a user's roles",
		"For user admins; only owners grant or take away the owner role, and the last active owner keeps it.",
		0, http.StatusForbidden, http.StatusNotFound, http.StatusConflict), h.setRoles)
	huma.Register(api, op("suspend-user", http.MethodPost, one+"/suspend", "Suspend a user",
		"For user admins. A suspended user's sessions and tokens stop working (within 5 seconds on other replicas); nothing is deleted.",
		0, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound), h.suspend)
	huma.Register(api, op("activate-user", http.MethodPost, one+"/activate", "Reactivate a suspended user",
		"For user admins.", 0, http.StatusForbidden, http.StatusNotFound), h.activate)
	huma.Register(api, op("delete-user", http.MethodDelete, one, "Delete a user",
		"For user admins. Deletes the user's sessions and tokens with them; audit entries stay.",
		http.StatusNoContent, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound), h.delete)
	huma.Register(api, op("change-password", http.MethodPut, one+"/password", "Change a password",
		"Your own needs the current password; user admins set anyone's. Signs the user out everywhere else (API tokens stay).",
		http.StatusNoContent, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound), h.changePassword)
}

// UserPath names a user in the path: me, an ID, or a username.
type UserPath struct {
	User string `path:"user" minLength:"1" maxLength:"36" doc:"me, a user ID, or a username." example:"me"`
}

// lookup finds the user a path names.
func (h handlers) lookup(ctx context.Context, ref string) (dbsqlc.User, error) {
	var (
		u   dbsqlc.User
		err error
	)
	switch id, perr := uuid.Parse(ref); {
	case ref == "me":
		a, aerr := authz.ActorFrom(ctx)
		if aerr != nil {
			return u, aerr
		}
		u, err = h.DB.GetUserByID(ctx, a.UserID)
	case perr == nil:
		u, err = h.DB.GetUserByID(ctx, id)
	default:
		u, err = h.DB.GetUserByUsername(ctx, ref)
	}
	if err = db.Translate(err); errors.Is(err, db.ErrNotFound) {
		return u, noSuchUser(ref)
	}
	return u, err
}

func noSuchUser(ref string) error {
	return huma.Error404NotFound("No user " + ref + ".")
}

// authorizeOn finds the user ref names and decides whether the actor may act on them: on themselves
// with self, on others with other. Users who may not even read others get 404, so accounts cannot be
// probed; only owners change owners.
func (h handlers) authorizeOn(ctx context.Context, ref string, self, other authz.Action) (dbsqlc.User, error) {
	a, err := authz.ActorFrom(ctx)
	if err != nil {
		return dbsqlc.User{}, err
	}
	u, err := h.lookup(ctx, ref)
	if err != nil {
		return u, err
	}
	audit.Target(ctx, resource(u))
	if u.ID == a.UserID {
		return u, authz.Authorize(ctx, self)
	}
	if err := authz.Authorize(ctx, other); err != nil {
		if authz.Authorize(ctx, authz.ReadUsers) != nil {
			return u, noSuchUser(ref)
		}
		return u, err
	}
	if other != authz.ReadUsers && isOwner(u.Roles) && !authz.Is(ctx, authz.RoleOwner) {
		return u, huma.Error403Forbidden("Only owners can change an owner.")
	}
	return u, nil
}

func isOwner(roles []string) bool { return slices.Contains(roles, string(authz.RoleOwner)) }

type createUserInput struct {
	Body struct {
		Username string   `json:"username" pattern:"^[a-z0-9-]{1,32}$" patternDescription:"1 to 32 lowercase letters, digits or dashes" example:"grace"`
		Email    string   `json:"email" format:"email" maxLength:"254" example:"grace@example.com"`
		Name     string   `json:"name,omitempty" maxLength:"128" example:"Grace Hopper"`
		Password string   `json:"password,omitempty" minLength:"8" maxLength:"256" doc:"At least 8 characters. Leave out for users who sign in only with OIDC."`
		Roles    []string `json:"roles,omitempty" enum:"owner,user-admin,template-admin,auditor" uniqueItems:"true" maxItems:"4" doc:"Roles beyond member."`
	}
}

func (h handlers) create(ctx context.Context, in *createUserInput) (*UserOutput, error) {
	audit.Target(ctx, audit.Resource{Type: "user", Name: in.Body.Username})
	if err := authz.Authorize(ctx, authz.ManageUsers); err != nil {
		return nil, err
	}
	if isOwner(in.Body.Roles) && !authz.Is(ctx, authz.RoleOwner) {
		return nil, huma.Error403Forbidden("Only owners grant the owner role.")
	}
	p := dbsqlc.InsertUserParams{Username: in.Body.Username, Email: in.Body.Email, Name: in.Body.Name, Roles: in.Body.Roles}
	if p.Roles == nil {
		p.Roles = []string{}
	}
	if in.Body.Password != "" {
		hash := hashPassword(in.Body.Password)
		p.PasswordHash = &hash
	}
	var created dbsqlc.User
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		var err error
		if created, err = tx.InsertUser(ctx, p); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, resource(created), audit.Diff(nil, toUser(created)))
	})
	if err != nil {
		return nil, conflict(err, in.Body.Username, in.Body.Email)
	}
	return &UserOutput{Body: toUser(created)}, nil
}

type listUsersInput struct {
	Search string `query:"search" maxLength:"64" doc:"Part of a username, email or name."`
	Status string `query:"status" enum:"active,suspended" doc:"Only users with this status."`
	Limit  int32  `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Offset int32  `query:"offset" minimum:"0" default:"0"`
}

// UsersOutput is a page of users.
type UsersOutput struct {
	Body struct {
		Users []User `json:"users"`
		Count int64  `json:"count" doc:"How many users match, on all pages."`
	}
}

func (h handlers) list(ctx context.Context, in *listUsersInput) (*UsersOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadUsers); err != nil {
		return nil, err
	}
	p := dbsqlc.ListUsersParams{Search: in.Search, Status: in.Status, Skip: in.Offset, MaxRows: in.Limit}
	rows, err := h.DB.ListUsers(ctx, p)
	if err != nil {
		return nil, err
	}
	out := &UsersOutput{}
	out.Body.Users = make([]User, 0, len(rows))
	for _, r := range rows {
		out.Body.Users = append(out.Body.Users, toUser(r.User))
		out.Body.Count = r.Total
	}
	if len(rows) == 0 && in.Offset > 0 {
		// Past the last page: count the matches without the offset.
		p.Skip, p.MaxRows = 0, 1
		if rows, err = h.DB.ListUsers(ctx, p); err != nil {
			return nil, err
		}
		if len(rows) > 0 {
			out.Body.Count = rows[0].Total
		}
	}
	return out, nil
}

func (h handlers) get(ctx context.Context, in *UserPath) (*UserOutput, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.ReadSelf, authz.ReadUsers)
	if err != nil {
		return nil, err
	}
	return &UserOutput{Body: toUser(u)}, nil
}

type updateUserInput struct {
	UserPath
	Body struct {
		Username *string `json:"username,omitempty" pattern:"^[a-z0-9-]{1,32}$" patternDescription:"1 to 32 lowercase letters, digits or dashes"`
		Email    *string `json:"email,omitempty" format:"email" maxLength:"254"`
		Name     *string `json:"name,omitempty" maxLength:"128"`
		// QuietHoursSchedule is checked as a cron schedule; empty is midnight UTC.
		QuietHoursSchedule *string `json:"quiet_hours_schedule,omitempty" maxLength:"256" doc:"When the user's day ends (cron, CRON_TZ= for the zone); templates with an autostop requirement stop workspaces then. Empty: midnight UTC." example:"CRON_TZ=Europe/Berlin 0 22 * * *"`
	}
}

func (h handlers) update(ctx context.Context, in *updateUserInput) (*UserOutput, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.UpdateSelf, authz.ManageUsers)
	if err != nil {
		return nil, err
	}
	p := dbsqlc.UpdateUserProfileParams{ID: u.ID, Username: u.Username, Email: u.Email, Name: u.Name}
	if in.Body.Username != nil {
		p.Username = *in.Body.Username
	}
	if in.Body.Email != nil {
		p.Email = *in.Body.Email
	}
	if in.Body.Name != nil {
		p.Name = *in.Body.Name
	}
	quiet := u.QuietHoursSchedule
	if q := in.Body.QuietHoursSchedule; q != nil {
		quiet = strings.TrimSpace(*q)
		if quiet != "" {
			if _, err := schedule.Parse(quiet); err != nil {
				return nil, huma.Error400BadRequest("The quiet hours are not a valid schedule: "+err.Error()+".",
					&huma.ErrorDetail{Location: "body.quiet_hours_schedule", Message: err.Error(), Value: quiet})
			}
		}
	}
	updated, err := h.change(ctx, u, func(tx db.Tx) (dbsqlc.User, error) {
		updated, err := tx.UpdateUserProfile(ctx, p)
		if err != nil || quiet == updated.QuietHoursSchedule {
			return updated, err
		}
		return tx.SetUserQuietHours(ctx, dbsqlc.SetUserQuietHoursParams{ID: u.ID, QuietHoursSchedule: quiet})
	})
	if err != nil {
		return nil, conflict(err, p.Username, p.Email)
	}
	return &UserOutput{Body: toUser(updated)}, nil
}

// change applies fn to u in a transaction, records the difference and forgets u's cached credentials,
// so the change (a new username, roles or status) applies to their next request on this replica.
func (h handlers) change(ctx context.Context, u dbsqlc.User, fn func(db.Tx) (dbsqlc.User, error)) (dbsqlc.User, error) {
	var updated dbsqlc.User
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		var err error
		if updated, err = fn(tx); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, resource(updated), audit.Diff(toUser(u), toUser(updated)))
	})
	if err != nil {
		return updated, err
	}
	h.Auth.ForgetUser(ctx, u.ID)
	return updated, nil
}

type setRolesInput struct {
	UserPath
	Body struct {
		Roles []string `json:"roles" enum:"owner,user-admin,template-admin,auditor" uniqueItems:"true" maxItems:"4" doc:"Roles beyond member; [] leaves a plain member."`
	}
}

func (h handlers) setRoles(ctx context.Context, in *setRolesInput) (*UserOutput, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.ManageUsers, authz.ManageUsers)
	if err != nil {
		return nil, err
	}
	roles := in.Body.Roles
	if roles == nil {
		roles = []string{}
	}
	if isOwner(roles) != isOwner(u.Roles) && !authz.Is(ctx, authz.RoleOwner) {
		return nil, huma.Error403Forbidden("Only owners grant or take away the owner role.")
	}
	updated, err := h.change(ctx, u, func(tx db.Tx) (dbsqlc.User, error) {
		if err := keepAnOwner(ctx, tx, u, isOwner(u.Roles) && !isOwner(roles)); err != nil {
			return u, err
		}
		return tx.UpdateUserRoles(ctx, dbsqlc.UpdateUserRolesParams{ID: u.ID, Roles: roles})
	})
	if err != nil {
		return nil, err
	}
	return &UserOutput{Body: toUser(updated)}, nil
}

// keepAnOwner refuses a change that would leave the deployment without an active owner.
func keepAnOwner(ctx context.Context, tx db.Tx, u dbsqlc.User, removes bool) error {
	if !removes || u.Status != "active" {
		return nil
	}
	n, err := tx.CountActiveOwners(ctx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return huma.Error409Conflict("This is the last active owner; make someone else an owner first.")
	}
	return nil
}

func notYourself(ctx context.Context, u dbsqlc.User, what string) error {
	if a, _ := authz.ActorFrom(ctx); a.UserID == u.ID {
		return huma.Error400BadRequest("You cannot "+what+" yourself.",
			&huma.ErrorDetail{Location: "path.user", Message: "is you", Value: u.Username})
	}
	return nil
}

func (h handlers) suspend(ctx context.Context, in *UserPath) (*UserOutput, error) {
	return h.setStatus(ctx, in.User, "suspended")
}

func (h handlers) activate(ctx context.Context, in *UserPath) (*UserOutput, error) {
	return h.setStatus(ctx, in.User, "active")
}

func (h handlers) setStatus(ctx context.Context, ref, status string) (*UserOutput, error) {
	u, err := h.authorizeOn(ctx, ref, authz.ManageUsers, authz.ManageUsers)
	if err != nil {
		return nil, err
	}
	if err := notYourself(ctx, u, "suspend or reactivate"); err != nil {
		return nil, err
	}
	updated, err := h.change(ctx, u, func(tx db.Tx) (dbsqlc.User, error) {
		return tx.UpdateUserStatus(ctx, dbsqlc.UpdateUserStatusParams{ID: u.ID, Status: status})
	})
	if err != nil {
		return nil, err
	}
	return &UserOutput{Body: toUser(updated)}, nil
}

func (h handlers) delete(ctx context.Context, in *UserPath) (*struct{}, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.ManageUsers, authz.ManageUsers)
	if err != nil {
		return nil, err
	}
	if err := notYourself(ctx, u, "delete"); err != nil {
		return nil, err
	}
	revoke, err := h.ExternalAuth.Revoker(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		// Workspaces refer to their owner without cascading: a user whose workspaces still exist
		// cannot be deleted, or their infrastructure would be left behind with nobody to delete it.
		if err := tx.PurgeDeletedWorkspaces(ctx, u.ID); err != nil {
			return err
		}
		n, err := tx.CountUserWorkspaces(ctx, u.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			return huma.Error409Conflict(fmt.Sprintf("%s has %d workspaces; delete them first.", u.Username, n),
				&huma.ErrorDetail{Location: "path.user", Message: "has workspaces", Value: n})
		}
		if _, err := tx.DeleteUser(ctx, u.ID); err != nil {
			if db.IsForeignKeyViolation(err) { // a workspace was created meanwhile
				return huma.Error409Conflict(u.Username + " has workspaces; delete them first.")
			}
			return err
		}
		return audit.Record(ctx, tx.Queries, resource(u), audit.Diff(toUser(u), nil))
	})
	if err != nil {
		return nil, err
	}
	h.Auth.ForgetUser(ctx, u.ID)
	revoke(context.WithoutCancel(ctx)) // the links went with the user; their tokens go at the providers
	return nil, nil
}

type changePasswordInput struct {
	UserPath
	Body struct {
		OldPassword string `json:"old_password,omitempty" maxLength:"256" doc:"Your current password; needed to change your own."`
		Password    string `json:"password" minLength:"8" maxLength:"256" doc:"At least 8 characters."`
	}
}

func (h handlers) changePassword(ctx context.Context, in *changePasswordInput) (*struct{}, error) {
	u, err := h.authorizeOn(ctx, in.User, authz.UpdateSelf, authz.ManageUsers)
	if err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	keep := ""
	if u.ID == a.UserID {
		keep = a.KeyID
		if u.PasswordHash != nil && !checkPassword(*u.PasswordHash, in.Body.OldPassword) {
			return nil, huma.Error400BadRequest("The current password is wrong.",
				&huma.ErrorDetail{Location: "body.old_password", Message: "does not match"})
		}
	}
	hash := hashPassword(in.Body.Password)
	err = h.DB.InTx(ctx, func(tx db.Tx) error {
		if err := tx.UpdateUserPassword(ctx, dbsqlc.UpdateUserPasswordParams{ID: u.ID, PasswordHash: &hash}); err != nil {
			return err
		}
		if _, err := tx.RevokeUserSessions(ctx, dbsqlc.RevokeUserSessionsParams{UserID: u.ID, Keep: keep}); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, resource(u), map[string]audit.Change{"password": {Secret: true}})
	})
	if err != nil {
		return nil, err
	}
	h.Auth.ForgetUser(ctx, u.ID)
	return nil, nil
}
