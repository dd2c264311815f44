package workspace

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/hearthdev/hearth/api/provisioner"
	"github.com/hearthdev/hearth/api/template"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
)

// LogsBody is a page of a build's log lines.
type LogsBody struct {
	Logs []template.LogLine `json:"logs"`
}

// pollEvery is how often a follower looks for lines it was not notified of (a lost notification, a
// replica whose listener is reconnecting).
const pollEvery = 2 * time.Second

func registerLogs(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	o := op("get-workspace-build-logs", http.MethodGet, "/api/v2/workspacebuilds/{build}/logs", "Get or follow a build's logs",
		"Terraform's output, line by line. Without follow: the lines after `after`, as JSON. With follow=true: the lines so far, then each new one as it is printed, until the build ends — as Server-Sent Events (Accept: text/event-stream; events log and end) or, on a websocket upgrade, as one JSON log line a message, closed normally at the end.")
	schema := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(LogsBody{}), true, "")
	line := api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(template.LogLine{}), true, "")
	o.Responses = map[string]*huma.Response{
		"200": {Description: "The lines (JSON), or a stream of them (follow=true).", Content: map[string]*huma.MediaType{
			"application/json":  {Schema: schema},
			"text/event-stream": {Schema: &huma.Schema{Type: "string", Description: "event: log with a JSON log line as data (" + line.Ref + "), then event: end with {\"status\": ...}."}},
		}},
	}
	huma.Register(api, o, h.logs)
}

type logsInput struct {
	BuildPath
	After  int64  `query:"after" minimum:"0" doc:"Only lines after this line ID."`
	Follow bool   `query:"follow" doc:"Stream new lines until the build ends."`
	Accept string `header:"Accept"`
}

func (h handlers) logs(ctx context.Context, in *logsInput) (*huma.StreamResponse, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	b, _, err := h.findBuild(ctx, h.DB.Queries, in.Build)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		switch {
		case !in.Follow:
			lines, err := h.lines(ctx, b, in.After)
			if err != nil {
				h.Logger.ErrorContext(ctx, "workspace: reading build logs failed", "build", b.ID, "error", err)
				writeError(w)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(LogsBody{Logs: lines})
		case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
			h.followWebsocket(r, w, b, in.After)
		default:
			h.followSSE(r, w, b, in.After)
		}
	}}, nil
}

func writeError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = fmt.Fprint(w, `{"title":"Internal Server Error","status":500,"detail":"Reading the logs failed."}`)
}

func (h handlers) lines(ctx context.Context, b dbsqlc.WorkspaceBuild, after int64) ([]template.LogLine, error) {
	out := []template.LogLine{}
	if b.JobID == nil {
		return out, nil
	}
	rows, err := h.DB.ListJobLogs(ctx, dbsqlc.ListJobLogsParams{JobID: *b.JobID, After: after})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out = append(out, template.LogLine{ID: r.ID, LogLine: provisioner.LogLine{Time: r.Time, Stage: r.Stage, Level: r.Level, Output: r.Output}})
	}
	return out, nil
}

func ended(status string) bool {
	return status == "succeeded" || status == "failed" || status == "canceled"
}

// follow calls send with every line after after, as they come, until the build ends (then it returns
// the build's final status) or ctx ends.
func (h handlers) follow(ctx context.Context, b dbsqlc.WorkspaceBuild, after int64, send func(template.LogLine) error) (string, error) {
	var sub interface {
		C() <-chan struct{}
		Close()
	}
	if b.JobID != nil && h.Logs != nil {
		s := h.Logs.Subscribe(strconv.FormatInt(*b.JobID, 10))
		sub = s
		defer sub.Close()
	}
	for {
		// Read the status first: lines written before the build ended are then all read below.
		cur, err := h.DB.GetWorkspaceBuild(ctx, b.ID)
		if err != nil {
			return "", err
		}
		lines, err := h.lines(ctx, cur, after)
		if err != nil {
			return "", err
		}
		for _, l := range lines {
			if err := send(l); err != nil {
				return "", err
			}
			after = l.ID
		}
		if ended(cur.Status) {
			return cur.Status, nil
		}
		var wake <-chan struct{}
		if sub != nil {
			wake = sub.C()
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-wake:
		case <-time.After(pollEvery):
		}
	}
}

func (h handlers) followSSE(r *http.Request, w http.ResponseWriter, b dbsqlc.WorkspaceBuild, after int64) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	status, err := h.follow(r.Context(), b, after, func(l template.LogLine) error {
		data, _ := json.Marshal(l)
		if _, err := fmt.Fprintf(w, "id: %d\nevent: log\ndata: %s\n\n", l.ID, data); err != nil {
			return err
		}
		return rc.Flush()
	})
	if err == nil {
		_, _ = fmt.Fprintf(w, "event: end\ndata: {\"status\":%q}\n\n", status)
		_ = rc.Flush()
	}
}

func (h handlers) followWebsocket(r *http.Request, w http.ResponseWriter, b dbsqlc.WorkspaceBuild, after int64) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept wrote the error
	}
	defer func() { _ = c.CloseNow() }()
	ctx := c.CloseRead(r.Context()) // the client sends nothing; a close from it ends ctx
	status, err := h.follow(ctx, b, after, func(l template.LogLine) error {
		data, _ := json.Marshal(l)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, data)
	})
	if err == nil {
		_ = c.Close(websocket.StatusNormalClosure, "build "+status)
	}
}
