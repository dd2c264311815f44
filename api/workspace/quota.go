package workspace

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

func registerQuota(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	get := op("get-user-quota", http.MethodGet, "/api/v2/users/{user}/quota", "Get a user's quota",
		"Their daily credit allowance (the sum over their groups) and what their running workspaces cost a day (the daily_cost of their resources). "+
			"Your own, or anyone's for user admins and auditors.")
	get.Tags = []string{"Users"}
	huma.Register(api, get, h.quota)
}

// Quota is a user's daily credits.
type Quota struct {
	Allowance int64 `json:"allowance" doc:"Credits a day: the sum of the allowances of the user's groups."`
	Used      int64 `json:"used" doc:"What the user's running (and starting) workspaces cost a day."`
}

// QuotaOutput is a user's quota.
type QuotaOutput struct {
	Body Quota
}

type quotaInput struct {
	User string `path:"user" minLength:"1" maxLength:"36" doc:"me, a user ID, or a username." example:"me"`
}

func (h handlers) quota(ctx context.Context, in *quotaInput) (*QuotaOutput, error) {
	if err := authz.Authorize(ctx, authz.ReadSelf); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	id := a.UserID
	if in.User != "me" && in.User != a.Username && in.User != a.UserID.String() {
		if err := authz.Authorize(ctx, authz.ReadUsers); err != nil {
			return nil, huma.Error404NotFound("No user " + in.User + ".")
		}
		var (
			u   dbsqlc.User
			err error
		)
		if parsed, perr := uuid.Parse(in.User); perr == nil {
			u, err = h.DB.GetUserByID(ctx, parsed)
		} else {
			u, err = h.DB.GetUserByUsername(ctx, in.User)
		}
		if err != nil {
			if errors.Is(db.Translate(err), db.ErrNotFound) {
				return nil, huma.Error404NotFound("No user " + in.User + ".")
			}
			return nil, err
		}
		id = u.ID
	}
	q, err := h.DB.QuotaOf(ctx, dbsqlc.QuotaOfParams{OwnerID: id, ExceptWorkspace: uuid.Nil})
	if err != nil {
		return nil, err
	}
	return &QuotaOutput{Body: Quota{Allowance: q.Allowance, Used: q.Used}}, nil
}

// CheckQuota (run by every start, exported for the benchmark of the checks a build request makes) refuses, before any job is queued, a start of w on v that would take its owner's
// workspaces past their daily allowance. Quotas are on once any group has an allowance (so templates
// with costs run as before until an operator sets one); a version that costs nothing is never
// refused; the owner's starts are serialized, so two at once cannot both squeeze under the allowance.
func CheckQuota(ctx context.Context, tx db.Tx, w dbsqlc.Workspace, v dbsqlc.TemplateVersion) error {
	if w.OwnerID == authz.PrebuildsOwner {
		return nil // a prebuild counts against whoever claims it, from then on
	}
	c, err := tx.StartQuotaCheck(ctx, dbsqlc.StartQuotaCheckParams{VersionID: v.ID, OwnerID: w.OwnerID.String()})
	if err != nil || !c.Locked { // free, or quotas off
		return err
	}
	cost := c.Cost
	q, err := tx.QuotaOf(ctx, dbsqlc.QuotaOfParams{OwnerID: w.OwnerID, ExceptWorkspace: w.ID})
	if err != nil {
		return err
	}
	if q.Used+cost <= q.Allowance {
		return nil
	}
	return huma.Error403Forbidden(fmt.Sprintf("Starting %s would cost %d credits a day, and its owner's running workspaces already use %d of an allowance of %d: "+
		"stop another workspace, or ask a user admin for a larger allowance (it is the sum over the owner's groups).", w.Name, cost, q.Used, q.Allowance),
		&huma.ErrorDetail{Location: "quota", Message: "over the daily allowance", Value: map[string]int64{"cost": cost, "used": q.Used, "allowance": q.Allowance}})
}
