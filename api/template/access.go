package template

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/api/access"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

func registerAccess(api huma.API, h handlers) {
	errs := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	huma.Register(api, huma.Operation{OperationID: "get-template-acl", Method: http.MethodGet, Path: "/api/v2/templates/{template}/acl",
		Summary: "Get a template's access list", Tags: []string{"Templates"}, Security: h.Security, Errors: errs,
		Description: "Who may use the template (see it, create workspaces from it) and who may administer it, besides template admins. " +
			"For the template's admins."}, h.getACL)
	huma.Register(api, huma.Operation{OperationID: "update-template-acl", Method: http.MethodPatch, Path: "/api/v2/templates/{template}/acl",
		Summary: "Change a template's access list", Tags: []string{"Templates"}, Security: h.Security, Errors: errs,
		Description: "Grants users and groups use or admin, or takes it away (role \"\"); entries not named stay. For the template's admins."}, h.updateACL)
}

// ACLOutput is an access list.
type ACLOutput struct {
	Body access.List
}

type aclInput struct {
	TemplatePath
}

func (h handlers) getACL(ctx context.Context, in *aclInput) (*ACLOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	t, err := Lookup(ctx, h.DB.Queries, in.Template, "path.template", authz.AdminTemplate)
	if err != nil {
		return nil, err
	}
	rows, err := templateStore(h.DB.Queries, t).List(ctx)
	if err != nil {
		return nil, err
	}
	return &ACLOutput{Body: access.ToList(rows)}, nil
}

type updateTemplateACLInput struct {
	TemplatePath
	Body access.Change
}

func (h handlers) updateACL(ctx context.Context, in *updateTemplateACLInput) (*ACLOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadTemplates); err != nil {
		return nil, err
	}
	var after access.List
	err := h.DB.InTx(ctx, func(tx db.Tx) error {
		t, err := Lookup(ctx, tx.Queries, in.Template, "path.template", authz.AdminTemplate)
		if err != nil {
			return err
		}
		if _, err := tx.LockTemplate(ctx, t.ID); err != nil {
			return db.Translate(err)
		}
		grants, err := access.Resolve(ctx, tx.Queries, in.Body)
		if err != nil {
			return err
		}
		var before access.List
		if before, after, err = access.Apply(ctx, templateStore(tx.Queries, t), grants); err != nil {
			return err
		}
		return audit.Record(ctx, tx.Queries, audit.Resource{Type: "template", ID: t.ID.String(), Name: t.Name}, audit.Diff(before, after))
	})
	if err != nil {
		return nil, err
	}
	return &ACLOutput{Body: after}, nil
}

// templateStore is a template's access list.
func templateStore(q *dbsqlc.Queries, t dbsqlc.Template) access.Store {
	return access.Store{
		List: func(ctx context.Context) ([]access.Row, error) {
			rows, err := q.ListTemplateGrants(ctx, t.ID)
			out := make([]access.Row, len(rows))
			for i, r := range rows {
				out[i] = access.Row(r)
			}
			return out, err
		},
		Delete: func(ctx context.Context, g access.Grant) error {
			return q.DeleteTemplateGrant(ctx, dbsqlc.DeleteTemplateGrantParams{TemplateID: t.ID, UserID: g.UserID, GroupID: g.GroupID})
		},
		Insert: func(ctx context.Context, g access.Grant) error {
			return q.InsertTemplateGrant(ctx, dbsqlc.InsertTemplateGrantParams{TemplateID: t.ID, UserID: g.UserID, GroupID: g.GroupID, Role: g.Role})
		},
	}
}
