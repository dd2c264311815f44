package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/logging"
)

// recordAudit is huma middleware for operations that change something (any but GET, HEAD and OPTIONS,
// and those marked with Metadata["audit"] true, like the OIDC callback, which signs in on a GET).
// Metadata["audit"] false exempts machine traffic, like provisioner workers' heartbeats and logs,
// which the job's own state and logs record. It gives the handler what the
// audit entry needs (who, from where, which request); a handler records its successful change in its
// own transaction, and this middleware records every refusal or failure afterwards. Requests that
// never reached the operation (no or a bad token, 401) and rate-limited ones (429) are not recorded,
// so a flood of them cannot fill the log.
func recordAudit(d *db.DB, logger *slog.Logger) func(huma.Context, func(huma.Context)) {
	return func(hctx huma.Context, next func(huma.Context)) {
		op := hctx.Operation()
		if (safeMethod(hctx.Method()) && op.Metadata["audit"] != true) || op.Metadata["audit"] == false {
			next(hctx)
			return
		}
		status := op.DefaultStatus
		if status == 0 {
			status = http.StatusOK
		}
		ctx := audit.Start(hctx.Context(), audit.Request{
			Action: op.OperationID, IP: audit.ClientIP(hctx.RemoteAddr()), UserAgent: hctx.Header("User-Agent"),
			RequestID: logging.RequestID(hctx.Context()), Status: status,
		})
		if a, err := authz.ActorFrom(ctx); err == nil {
			audit.Actor(ctx, a)
		}
		next(huma.WithContext(hctx, ctx))
		if audit.Recorded(ctx) {
			return
		}
		switch code := hctx.Status(); {
		case code < 400:
			logger.ErrorContext(ctx, "audit: a change succeeded without an audit entry", "operation", op.OperationID)
		case code == http.StatusTooManyRequests:
		default:
			if err := audit.Finish(context.WithoutCancel(ctx), d.Queries, code); err != nil {
				logger.ErrorContext(ctx, "audit: recording a failed change", "operation", op.OperationID, "err", err)
			}
		}
	}
}
