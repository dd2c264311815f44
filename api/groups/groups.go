// Package groups serves groups of users: made by user admins, with members added by hand or synced
// from the OIDC groups claim at sign-in, and named in templates' and workspaces' access lists. The
// Everyone group holds every user without storing them.
package groups

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Deps are what the handlers need.
type Deps struct {
	DB *db.DB
	// Auth forgets members' cached authentication when their groups change, so the change counts at once.
	Auth     *authn.Authenticator
	Security []map[string][]string
}

type handlers struct{ Deps }

// Register adds the operations.
func Register(api huma.API, d Deps) {
	h := handlers{d}
	op := func(id, method, path, summary, desc string, status int, errs ...int) huma.Operation {
		return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Description: desc,
			Tags: []string{"Groups"}, Security: d.Security, DefaultStatus: status,
			Errors: append([]int{http.StatusUnauthorized, http.StatusForbidden}, errs...)}
	}
	const one = "/api/v2/groups/{group}"
	huma.Register(api, op("create-group", http.MethodPost, "/api/v2/groups", "Create a group", "For user admins.",
		http.StatusCreated, http.StatusBadRequest, http.StatusConflict), h.create)
	huma.Register(api, op("list-groups", http.MethodGet, "/api/v2/groups", "List groups",
		"Every group with its number of members; for every user, so they can share with a group by name.", 0), h.list)
	huma.Register(api, op("get-group", http.MethodGet, one, "Get a group", "By name or ID, with its members (Everyone's are every user and are not listed).",
		0, http.StatusNotFound), h.get)
	huma.Register(api, op("update-group", http.MethodPatch, one, "Change a group",
		"Rename it, or add and remove members (by username or ID). For user admins. Everyone's members cannot be changed.",
		0, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict), h.update)
	huma.Register(api, op("delete-group", http.MethodDelete, one, "Delete a group",
		"For user admins. Its grants on templates and workspaces go with it. Everyone cannot be deleted.",
		http.StatusNoContent, http.StatusBadRequest, http.StatusNotFound), h.delete)
}

// Member is a user in a group.
type Member struct {
	ID       uuid.UUID `json:"id"`
	Username string    `json:"username"`
	Name     string    `json:"name"`
	Source   string    `json:"source" enum:"manual,oidc" doc:"manual: added by a user admin; oidc: from the groups claim at the user's last sign-in."`
}

// Group is a group of users.
type Group struct {
	ID             uuid.UUID `json:"id"`
	Name           string    `json:"name"`
	DisplayName    string    `json:"display_name"`
	Everyone       bool      `json:"everyone,omitempty" doc:"The group every user belongs to."`
	QuotaAllowance int32     `json:"quota_allowance" doc:"Daily credits each member may spend on running workspaces; a user's allowance is the sum over their groups."`
	MemberCount    int64     `json:"member_count"`
	Members        []Member  `json:"members,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
}

func toGroup(g dbsqlc.Group, count int64) Group {
	return Group{ID: g.ID, Name: g.Name, DisplayName: g.DisplayName, Everyone: g.ID == authz.Everyone, QuotaAllowance: g.QuotaAllowance,
		MemberCount: count, CreatedAt: g.CreatedAt}
}

// GroupOutput is one group.
type GroupOutput struct {
	Body Group
}

// GroupPath names a group.
type GroupPath struct {
	Group string `path:"group" minLength:"1" maxLength:"36" doc:"The group's name or ID."`
}

type createGroupInput struct {
	Body struct {
		Name           string   `json:"name" pattern:"^[a-z0-9](?:[a-z0-9-]{0,34}[a-z0-9])?$" doc:"Lowercase letters, digits and inner dashes; unique."`
		DisplayName    string   `json:"display_name,omitempty" maxLength:"64"`
		Members        []string `json:"members,omitempty" maxItems:"1000" doc:"Usernames or user IDs."`
		QuotaAllowance int32    `json:"quota_allowance,omitempty" minimum:"0" maximum:"1000000000" doc:"Daily credits for each member (default 0)."`
	}
}

func (h handlers) create(ctx context.Context, in *createGroupInput) (*GroupOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageGroups); err != nil {
		return nil, err
	}
	var out Group
	var members []uuid.UUID
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		g, err := tx.InsertGroup(ctx, dbsqlc.InsertGroupParams{Name: in.Body.Name, DisplayName: in.Body.DisplayName, QuotaAllowance: in.Body.QuotaAllowance})
		if db.IsUniqueViolation(err, "groups_name") {
			return huma.Error409Conflict("A group named "+in.Body.Name+" exists.", &huma.ErrorDetail{Location: "body.name", Message: "taken", Value: in.Body.Name})
		}
		if err != nil {
			return err
		}
		if members, err = resolveUsers(ctx, tx.Queries, in.Body.Members, "body.members"); err != nil {
			return err
		}
		for _, u := range members {
			if err := tx.AddGroupMember(ctx, dbsqlc.AddGroupMemberParams{GroupID: g.ID, UserID: u}); err != nil {
				return err
			}
		}
		if out, err = h.load(ctx, tx.Queries, g); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "group", ID: g.ID.String(), Name: g.Name}, audit.Diff(nil, out))
	})
	if err != nil {
		return nil, err
	}
	h.forget(ctx, members)
	return &GroupOutput{Body: out}, nil
}

// GroupsOutput lists groups.
type GroupsOutput struct {
	Body struct {
		Groups []Group `json:"groups"`
	}
}

func (h handlers) list(ctx context.Context, _ *struct{}) (*GroupsOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadGroups); err != nil {
		return nil, err
	}
	rows, err := h.DB.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := &GroupsOutput{}
	out.Body.Groups = make([]Group, len(rows))
	for i, r := range rows {
		out.Body.Groups[i] = toGroup(r.Group, r.MemberCount)
	}
	return out, nil
}

func (h handlers) get(ctx context.Context, in *GroupPath) (*GroupOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadGroups); err != nil {
		return nil, err
	}
	g, err := find(ctx, h.DB.Queries, in.Group)
	if err != nil {
		return nil, err
	}
	out, err := h.load(ctx, h.DB.Queries, g)
	if err != nil {
		return nil, err
	}
	return &GroupOutput{Body: out}, nil
}

// load is a group with its members.
func (h handlers) load(ctx context.Context, q *dbsqlc.Queries, g dbsqlc.Group) (Group, error) {
	if g.ID == authz.Everyone {
		n, err := q.CountUsers(ctx)
		return toGroup(g, n), err
	}
	rows, err := q.ListGroupMembers(ctx, g.ID)
	if err != nil {
		return Group{}, err
	}
	out := toGroup(g, int64(len(rows)))
	out.Members = make([]Member, len(rows))
	for i, r := range rows {
		out.Members[i] = Member{ID: r.User.ID, Username: r.User.Username, Name: r.User.Name, Source: r.Source}
	}
	return out, nil
}

type updateGroupInput struct {
	GroupPath
	Body struct {
		Name           *string  `json:"name,omitempty" pattern:"^[a-z0-9](?:[a-z0-9-]{0,34}[a-z0-9])?$"`
		DisplayName    *string  `json:"display_name,omitempty" maxLength:"64"`
		QuotaAllowance *int32   `json:"quota_allowance,omitempty" minimum:"0" maximum:"1000000000" doc:"Daily credits for each member."`
		AddMembers     []string `json:"add_members,omitempty" maxItems:"1000" doc:"Usernames or user IDs to add."`
		RemoveMembers  []string `json:"remove_members,omitempty" maxItems:"1000" doc:"Usernames or user IDs to remove."`
	}
}

func (h handlers) update(ctx context.Context, in *updateGroupInput) (*GroupOutput, error) {
	if err := authz.Authorize(ctx, authz.ManageGroups); err != nil {
		return nil, err
	}
	var out Group
	var changed []uuid.UUID
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		g, err := find(ctx, tx.Queries, in.Group)
		if err != nil {
			return err
		}
		if g.ID == authz.Everyone && (len(in.Body.AddMembers) > 0 || len(in.Body.RemoveMembers) > 0 || in.Body.Name != nil) {
			return huma.Error400BadRequest("Everyone holds every user and keeps its name: only its display name and allowance can change.",
				&huma.ErrorDetail{Location: "path.group", Message: "the Everyone group", Value: in.Group})
		}
		before, err := h.load(ctx, tx.Queries, g)
		if err != nil {
			return err
		}
		name, display, quota := g.Name, g.DisplayName, g.QuotaAllowance
		if in.Body.QuotaAllowance != nil {
			quota = *in.Body.QuotaAllowance
		}
		if in.Body.Name != nil {
			name = *in.Body.Name
		}
		if in.Body.DisplayName != nil {
			display = *in.Body.DisplayName
		}
		g, err = tx.UpdateGroup(ctx, dbsqlc.UpdateGroupParams{ID: g.ID, Name: name, DisplayName: display, QuotaAllowance: quota})
		if db.IsUniqueViolation(err, "groups_name") {
			return huma.Error409Conflict("A group named "+name+" exists.", &huma.ErrorDetail{Location: "body.name", Message: "taken", Value: name})
		}
		if err != nil {
			return err
		}
		add, err := resolveUsers(ctx, tx.Queries, in.Body.AddMembers, "body.add_members")
		if err != nil {
			return err
		}
		remove, err := resolveUsers(ctx, tx.Queries, in.Body.RemoveMembers, "body.remove_members")
		if err != nil {
			return err
		}
		for _, u := range add {
			if err := tx.AddGroupMember(ctx, dbsqlc.AddGroupMemberParams{GroupID: g.ID, UserID: u}); err != nil {
				return err
			}
		}
		for _, u := range remove {
			if _, err := tx.RemoveGroupMember(ctx, dbsqlc.RemoveGroupMemberParams{GroupID: g.ID, UserID: u}); err != nil {
				return err
			}
		}
		changed = append(add, remove...)
		if out, err = h.load(ctx, tx.Queries, g); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "group", ID: g.ID.String(), Name: g.Name}, audit.Diff(before, out))
	})
	if err != nil {
		return nil, err
	}
	h.forget(ctx, changed)
	return &GroupOutput{Body: out}, nil
}

func (h handlers) delete(ctx context.Context, in *GroupPath) (*struct{}, error) {
	if err := authz.Authorize(ctx, authz.ManageGroups); err != nil {
		return nil, err
	}
	var members []uuid.UUID
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		g, err := find(ctx, tx.Queries, in.Group)
		if err != nil {
			return err
		}
		if g.ID == authz.Everyone {
			return huma.Error400BadRequest("Everyone cannot be deleted; take its grants away from templates instead.",
				&huma.ErrorDetail{Location: "path.group", Message: "the Everyone group", Value: in.Group})
		}
		before, err := h.load(ctx, tx.Queries, g)
		if err != nil {
			return err
		}
		for _, m := range before.Members {
			members = append(members, m.ID)
		}
		if _, err := tx.DeleteGroup(ctx, g.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "group", ID: g.ID.String(), Name: g.Name}, audit.Diff(before, nil))
	})
	if err != nil {
		return nil, err
	}
	h.forget(ctx, members)
	return nil, nil
}

// forget makes the members' new groups count at once, here and on the other replicas.
func (h handlers) forget(ctx context.Context, users []uuid.UUID) {
	if h.Auth == nil {
		return
	}
	for _, u := range users {
		h.Auth.ForgetUser(ctx, u)
	}
}

// find is the group a name or ID names, or a 404.
func find(ctx context.Context, q *dbsqlc.Queries, ref string) (dbsqlc.Group, error) {
	var (
		g   dbsqlc.Group
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		g, err = q.GetGroup(ctx, id)
	} else {
		g, err = q.GetGroupByName(ctx, ref)
	}
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return g, huma.Error404NotFound("No group "+ref+".", &huma.ErrorDetail{Location: "path.group", Message: "not found", Value: ref})
	}
	return g, err
}

// resolveUsers finds the users that usernames or IDs name; an unknown one is a 400 naming it.
func resolveUsers(ctx context.Context, q *dbsqlc.Queries, refs []string, field string) ([]uuid.UUID, error) {
	out := make([]uuid.UUID, 0, len(refs))
	for i, ref := range refs {
		var (
			u   dbsqlc.User
			err error
		)
		if id, perr := uuid.Parse(ref); perr == nil {
			u, err = q.GetUserByID(ctx, id)
		} else {
			u, err = q.GetUserByUsername(ctx, ref)
		}
		if errors.Is(db.Translate(err), db.ErrNotFound) {
			return nil, huma.Error400BadRequest("There is no user "+ref+".", &huma.ErrorDetail{Location: field + "[" + strconv.Itoa(i) + "]", Message: "no such user", Value: ref})
		}
		if err != nil {
			return nil, err
		}
		out = append(out, u.ID)
	}
	return out, nil
}
