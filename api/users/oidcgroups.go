package users

import (
	"context"
	"errors"
	"log/slog"
	"regexp"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

var groupName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,34}[a-z0-9])?$`)

// claimGroups is what the groups claim names, filtered and mapped to group names; ok is false when
// the token has no such claim (the memberships are then left as they are).
func (c OIDCConfig) claimGroups(claims map[string]any) (names []string, ok bool) {
	raw, ok := claims[c.GroupField]
	if !ok {
		return nil, false
	}
	var values []string
	switch v := raw.(type) {
	case string:
		values = []string{v}
	case []any:
		for _, x := range v {
			if s, isString := x.(string); isString {
				values = append(values, s)
			}
		}
	default:
		return nil, false
	}
	seen := map[string]bool{}
	for _, v := range values {
		if c.GroupFilter != nil && !c.GroupFilter.MatchString(v) {
			continue
		}
		if mapped, ok := c.GroupMapping[v]; ok {
			v = mapped
		}
		if v != "" && !seen[v] {
			seen[v] = true
			names = append(names, v)
		}
	}
	return names, true
}

// syncGroups makes the user's OIDC memberships the groups the claim names, creating missing ones when
// configured to. A name that is no valid group name, or a missing group without auto-create, is
// skipped and logged, never a failed sign-in.
func (h handlers) syncGroups(ctx context.Context, u dbsqlc.User, claims map[string]any) error {
	if h.oidc == nil || h.oidc.cfg.GroupField == "" {
		return nil
	}
	log := h.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, ok := h.oidc.cfg.claimGroups(claims)
	if !ok {
		log.WarnContext(ctx, "oidc: the ID token has no groups claim (or not a list of strings); the user's groups are left as they were",
			"claim", h.oidc.cfg.GroupField, "user", u.Username)
		return nil
	}
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		ids := []uuid.UUID{}
		for _, name := range names {
			g, err := tx.GetGroupByName(ctx, name)
			switch err = db.Translate(err); {
			case err == nil:
				ids = append(ids, g.ID)
				continue
			case !errors.Is(err, db.ErrNotFound):
				return err
			case !h.oidc.cfg.GroupAutoCreate:
				log.InfoContext(ctx, "oidc: the groups claim names a group that does not exist; skipped (--oidc-group-auto-create creates such groups)", "group", name)
				continue
			case !groupName.MatchString(name):
				log.WarnContext(ctx, "oidc: the groups claim names a group that cannot be created under that name (lowercase letters, digits and inner dashes); "+
					"map it to one with --oidc-group-mapping", "group", name)
				continue
			}
			if g, err = tx.InsertGroup(ctx, dbsqlc.InsertGroupParams{Name: name}); err != nil {
				return err
			}
			ids = append(ids, g.ID)
		}
		return tx.SyncOIDCGroupMembers(ctx, dbsqlc.SyncOIDCGroupMembersParams{UserID: u.ID, GroupIds: ids})
	})
	if err != nil {
		return err
	}
	if h.Auth != nil {
		h.Auth.ForgetUser(ctx, u.ID)
	}
	return nil
}
