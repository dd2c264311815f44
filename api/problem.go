package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/danielgtaylor/huma/v2"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/logging"
)

// Problem is every error response: an RFC 9457 problem document, served as application/problem+json,
// with the request ID that finds the matching log lines.
type Problem struct {
	Type      string              `json:"type,omitempty" format:"uri" default:"about:blank" doc:"A URI reference that identifies the problem type."`
	Title     string              `json:"title" doc:"A short, human-readable summary of the problem type." example:"Bad Request"`
	Status    int                 `json:"status" doc:"The HTTP status code." example:"400"`
	Detail    string              `json:"detail,omitempty" doc:"What went wrong, for a person." example:"Property name is required."`
	RequestID string              `json:"request_id,omitempty" doc:"The request's ID, as in the X-Request-Id header and the server's logs."`
	Errors    []*huma.ErrorDetail `json:"errors,omitempty" doc:"Each field at fault, with where it is (body.name, query.limit) and what is wrong with it."`
}

// Error returns the detail, so a Problem reads well when logged.
func (p *Problem) Error() string { return p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter: problems are application/problem+json.
func (p *Problem) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// StatusClientClosed answers (and logs, at info) a request its client canceled before it completed,
// as nginx's 499 does: it is not a server error.
const StatusClientClosed = 499

// errorLog receives the details of errors that are hidden from clients. huma's error constructor is
// package-wide, so this is too: the last New sets it.
var errorLog atomic.Pointer[slog.Logger]

func logger() *slog.Logger {
	if l := errorLog.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// The one place where errors become responses. Handlers return plain errors; known ones are mapped to
// their status here, and anything unexpected becomes a 500 whose text stays in the log.
func init() {
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return newProblem(status, msg, errs)
	}
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		p := translate(hctx, status, msg, errs)
		if hctx != nil {
			p.RequestID = logging.RequestID(hctx.Context())
		}
		return p
	}
}

func translate(hctx huma.Context, status int, msg string, errs []error) *Problem {
	if status == http.StatusUnsupportedMediaType {
		// The one rule for every JSON body: Content-Type application/json (or +json), or none at all.
		msg = "The body must be JSON: send it with Content-Type: application/json, or with no Content-Type " +
			"(curl -d sends application/x-www-form-urlencoded unless given -H 'Content-Type: application/json')."
	}
	if status < http.StatusInternalServerError {
		return newProblem(status, msg, errs)
	}
	for _, err := range errs {
		switch {
		case errors.Is(err, db.ErrNotFound):
			return newProblem(http.StatusNotFound, "The resource was not found.", nil)
		case errors.Is(err, authz.ErrUnauthenticated):
			return newProblem(http.StatusUnauthorized, "Sign in, or send a token as Authorization: Bearer.", nil)
		case errors.Is(err, authz.ErrForbidden):
			return newProblem(http.StatusForbidden, "You are not allowed to do this.", nil)
		}
	}
	if hctx != nil {
		ctx := hctx.Context()
		if ctx.Err() != nil && errors.Is(errors.Join(errs...), context.Canceled) {
			// The client went away mid-request: nothing failed here, and nobody reads the answer.
			return &Problem{Status: StatusClientClosed, Title: "Client Closed Request",
				Detail: "The request was canceled before it completed."}
		}
		if err := errors.Join(errs...); db.IsUnavailable(err) {
			// A dependency is down, not a bug: the client is told to come back, and the log says what.
			hctx.SetHeader("Retry-After", strconv.Itoa(RetryAfterSeconds))
			logger().WarnContext(ctx, "request failed: the database is unavailable", "dependency", "postgresql", "error", err,
				"operation", hctx.Operation().OperationID)
			return unavailable()
		}
		logger().ErrorContext(ctx, "request failed", "status", status, "message", msg, "error", errors.Join(errs...),
			"operation", hctx.Operation().OperationID)
	}
	return &Problem{
		Status: status,
		Title:  http.StatusText(status),
		Detail: "The server could not complete the request; the request ID finds the details in its logs.",
	}
}

// RetryAfterSeconds is what a 503 asks clients to wait before trying again.
const RetryAfterSeconds = 2

// unavailable is the problem of a request that failed because the database could not be reached.
func unavailable() *Problem {
	return &Problem{Status: http.StatusServiceUnavailable, Title: http.StatusText(http.StatusServiceUnavailable),
		Detail: "The database is unavailable; try again in a few seconds (see Retry-After)."}
}

func newProblem(status int, msg string, errs []error) *Problem {
	details := make([]*huma.ErrorDetail, 0, len(errs))
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(err, &d) {
			details = append(details, redact(d.ErrorDetail()))
		} else {
			details = append(details, &huma.ErrorDetail{Message: err.Error()})
		}
	}
	return &Problem{Status: status, Title: http.StatusText(status), Detail: msg, Errors: details}
}

// redact keeps secrets out of error responses: huma echoes the offending value, which for a whole
// body or a password field is exactly what must not travel back (or into a proxy's logs).
func redact(d *huma.ErrorDetail) *huma.ErrorDetail {
	loc := strings.ToLower(d.Location)
	if loc == "body" || strings.Contains(loc, "password") || strings.Contains(loc, "secret") || strings.Contains(loc, "token") {
		cp := *d
		cp.Value = nil
		return &cp
	}
	return d
}
