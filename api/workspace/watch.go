package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
)

// Watch timings: how often a watched workspace is looked at, how often an idle stream says it is
// alive, and how long a stream lasts before the client reconnects.
const (
	watchEvery     = time.Second
	watchKeepalive = 15 * time.Second
	watchFor       = time.Hour
)

func registerWatch(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	o := op("watch-workspace", http.MethodGet, "/api/v2/workspaces/{workspace}/watch", "Watch a workspace",
		"Server-Sent Events: event workspace with the workspace (as get-workspace, without resources) at once and whenever it changes — status, builds, deadline, next_transition — "+
			"checked every second; event deleted when it is gone. A comment every 15 s keeps idle connections open; the stream ends after an hour (reconnect), or after the first event with once=true.")
	o.Responses = map[string]*huma.Response{"200": {Description: "The stream.", Content: map[string]*huma.MediaType{
		"text/event-stream": {Schema: &huma.Schema{Type: "string", Description: "event: workspace with a JSON workspace (" +
			api.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(Workspace{}), true, "").Ref + "); event: deleted."}},
	}}}
	huma.Register(api, o, h.watch)
}

type watchInput struct {
	WorkspacePath
	Once bool `query:"once" doc:"Send the current state and end."`
}

func (h handlers) watch(ctx context.Context, in *watchInput) (*huma.StreamResponse, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return nil, err
	}
	if _, err := h.find(ctx, h.DB.Queries, in.Workspace); err != nil {
		return nil, err
	}
	id := in.Workspace
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		ctx, cancel := context.WithTimeout(r.Context(), watchFor)
		defer cancel()
		var last []byte
		quiet := time.Now()
		tick := time.NewTicker(watchEvery)
		defer tick.Stop()
		for {
			ws, err := h.DB.GetWorkspace(ctx, id)
			switch {
			case errors.Is(db.Translate(err), db.ErrNotFound) || (err == nil && ws.Deleted):
				_, _ = fmt.Fprint(w, "event: deleted\ndata: {}\n\n")
				_ = rc.Flush()
				return
			case err != nil:
				return // the request ended, or the database is away: the client reconnects
			}
			data, _ := json.Marshal(toWorkspace(ws))
			if !bytes.Equal(data, last) {
				if _, err := fmt.Fprintf(w, "event: workspace\ndata: %s\n\n", data); err != nil {
					return
				}
				last, quiet = data, time.Now()
				_ = rc.Flush()
				if in.Once {
					return
				}
			} else if time.Since(quiet) >= watchKeepalive {
				if _, err := fmt.Fprint(w, ": alive\n\n"); err != nil {
					return
				}
				quiet = time.Now()
				_ = rc.Flush()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}}, nil
}
