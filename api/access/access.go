// Package access serves what templates' and workspaces' access lists look like in the API, and
// changes them: the names and IDs a request uses, resolved to users and groups, with a clear error for
// one that does not exist. Who may change a list is decided by the caller, through internal/authz.
package access

import (
	"context"
	"errors"
	"sort"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// Entry is one user's or group's role.
type Entry struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name" doc:"The username, or the group's name."`
	Role string    `json:"role" enum:"use,admin"`
}

// List is an access list.
type List struct {
	Users  []Entry `json:"users"`
	Groups []Entry `json:"groups"`
}

// Change is a change to an access list: roles by username or group name (or ID); the role "" takes
// the entry away. Entries not named stay as they are.
type Change struct {
	Users  map[string]string `json:"users,omitempty" doc:"Username or user ID → use, admin, or \"\" to remove." maxProperties:"100"`
	Groups map[string]string `json:"groups,omitempty" doc:"Group name or ID → use, admin, or \"\" to remove." maxProperties:"100"`
}

// Row is a stored grant with the name of whom it names.
type Row struct {
	UserID, GroupID *uuid.UUID
	Role, Name      string
}

// ToList presents stored grants.
func ToList(rows []Row) List {
	out := List{Users: []Entry{}, Groups: []Entry{}}
	for _, r := range rows {
		switch {
		case r.UserID != nil:
			out.Users = append(out.Users, Entry{ID: *r.UserID, Name: r.Name, Role: r.Role})
		case r.GroupID != nil:
			out.Groups = append(out.Groups, Entry{ID: *r.GroupID, Name: r.Name, Role: r.Role})
		}
	}
	return out
}

// Grant is one resolved change: a user or a group, and its new role ("" to remove).
type Grant struct {
	UserID, GroupID *uuid.UUID
	Role            string
}

// Resolve checks a change and finds whom it names, in a stable order. An unknown user or group, or
// a role other than use, admin or "", is a 400 naming the entry.
func Resolve(ctx context.Context, q *dbsqlc.Queries, c Change) ([]Grant, error) {
	var out []Grant
	for _, k := range sortedKeys(c.Users) {
		role := c.Users[k]
		if err := checkRole("body.users."+k, role); err != nil {
			return nil, err
		}
		u, err := user(ctx, q, k)
		if err != nil {
			return nil, err
		}
		out = append(out, Grant{UserID: &u, Role: role})
	}
	for _, k := range sortedKeys(c.Groups) {
		role := c.Groups[k]
		if err := checkRole("body.groups."+k, role); err != nil {
			return nil, err
		}
		g, err := group(ctx, q, k)
		if err != nil {
			return nil, err
		}
		out = append(out, Grant{GroupID: &g, Role: role})
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func checkRole(field, role string) error {
	if role == "" || authz.Access(role).Valid() {
		return nil
	}
	return huma.Error400BadRequest("A role is use, admin, or \"\" to take the entry away; "+role+" is none of them.",
		&huma.ErrorDetail{Location: field, Message: "unknown role", Value: role})
}

func user(ctx context.Context, q *dbsqlc.Queries, ref string) (uuid.UUID, error) {
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
		return uuid.Nil, huma.Error400BadRequest("There is no user "+ref+": share with an existing username or user ID.",
			&huma.ErrorDetail{Location: "body.users." + ref, Message: "no such user", Value: ref})
	}
	return u.ID, err
}

func group(ctx context.Context, q *dbsqlc.Queries, ref string) (uuid.UUID, error) {
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
		return uuid.Nil, huma.Error400BadRequest("There is no group "+ref+": `hearth groups list` shows them.",
			&huma.ErrorDetail{Location: "body.groups." + ref, Message: "no such group", Value: ref})
	}
	return g.ID, err
}

// Store reads and writes one resource's access list (a template's, a workspace's).
type Store struct {
	List   func(ctx context.Context) ([]Row, error)
	Delete func(ctx context.Context, g Grant) error
	Insert func(ctx context.Context, g Grant) error
}

// Apply makes the resolved changes (each entry replaced, or removed for role "") and returns the
// list before and after, for the audit entry and the answer.
func Apply(ctx context.Context, s Store, grants []Grant) (before, after List, err error) {
	rows, err := s.List(ctx)
	if err != nil {
		return before, after, err
	}
	before = ToList(rows)
	for _, g := range grants {
		if err := s.Delete(ctx, g); err != nil {
			return before, after, err
		}
		if g.Role == "" {
			continue
		}
		if err := s.Insert(ctx, g); err != nil {
			return before, after, err
		}
	}
	if rows, err = s.List(ctx); err != nil {
		return before, after, err
	}
	return before, ToList(rows), nil
}
