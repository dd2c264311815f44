package workspace

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coordinator"
)

func registerCoordinate(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	upgrade := map[string]*huma.Response{"101": {Description: "Switching to a websocket."}}
	protocol := "A websocket of JSON text messages: the server sends {\"derp_map\": …, \"peers\": []} at once and {\"peers\": [nodes]} whenever the peers change; " +
		"the node sends {\"node\": {id, key, disco, addresses, endpoints, preferred_derp}} whenever it changes. Messages over 64 KiB close it. "
	a := huma.Operation{OperationID: "coordinate-workspace-agent-self", Method: http.MethodGet, Path: "/api/v2/workspaceagents/me/coordinate",
		Summary: "Coordinate the agent's tailnet node", Tags: []string{"Agents"}, Security: []map[string][]string{{"agent-token": {}}},
		Description: protocol + "The agent's node ID is its own ID; its peers are the clients connecting to it.",
		Errors:      []int{http.StatusUnauthorized, http.StatusServiceUnavailable}, Metadata: map[string]any{"audit": false}, Responses: upgrade}
	huma.Register(api, a, h.coordinateAgent)
	c := op("coordinate-workspace-agent", http.MethodGet, "/api/v2/workspaceagents/{agent}/coordinate", "Coordinate a tailnet node with an agent",
		protocol+"The client's node ID is the id it chose (query id); its one peer is the agent, once the agent is connected. "+
			"Only those who may connect to the agent may coordinate with it; the right is checked again every second, and its end closes the websocket (and the agent forgets the node).",
		http.StatusServiceUnavailable)
	c.Responses = upgrade
	c.Metadata = map[string]any{"audit": false}
	huma.Register(api, c, h.coordinateClient)
}

type coordinateAgentInput struct {
	Token string `header:"Hearth-Agent-Token" doc:"The agent's token."`
}

func (h handlers) coordinateAgent(ctx context.Context, in *coordinateAgentInput) (*huma.StreamResponse, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	if h.Coordinator == nil {
		return nil, huma.Error503ServiceUnavailable("Direct connections are off on this deployment.")
	}
	id := a.WorkspaceAgent.ID
	return h.coordinate(coordinator.Peer{ID: id, AgentID: id}), nil
}

type coordinateClientInput struct {
	AgentPath
	ID uuid.UUID `query:"id" required:"true" doc:"The client's node ID, fresh for each connection."`
}

func (h handlers) coordinateClient(ctx context.Context, in *coordinateClientInput) (*huma.StreamResponse, error) {
	a, user, err := h.connectable(ctx, in.Agent)
	if err != nil {
		return nil, err
	}
	if h.Coordinator == nil {
		return nil, huma.Error503ServiceUnavailable("Direct connections are off on this deployment: connect through the relay (connect-workspace-agent).")
	}
	actor, err := authz.ActorFrom(ctx)
	if err != nil {
		return nil, err
	}
	agentID, workspaceID := a.WorkspaceAgent.ID, a.WorkspaceID
	// A client coordinating with the agent is using the workspace, as a relayed connection is: its
	// connections bypass the server, so the coordination itself keeps the workspace from autostop.
	touch := func() {
		if h.Activity != nil {
			h.Activity.Touch(workspaceID)
		}
	}
	touch()
	check := func(ctx context.Context) error {
		now, err := h.Auth.Check(ctx, actor.KeyID)
		if err != nil {
			return err
		}
		_, _, err = h.connectable(authz.WithActor(ctx, now), agentID)
		return err
	}
	return h.coordinate(coordinator.Peer{ID: in.ID, AgentID: agentID, UserID: &user, Check: check, Touch: touch}), nil
}

// coordinate accepts the websocket and serves the node until it leaves.
func (h handlers) coordinate(p coordinator.Peer) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		h.detach(r, "tailnet coordination", func(ctx context.Context) {
			defer func() { _ = ws.CloseNow() }()
			if err := h.Coordinator.Serve(ctx, ws, p); err != nil {
				h.Logger.Debug("workspace: a tailnet node left", "node", p.ID, "agent", p.AgentID, "error", err)
			}
		})
	}}
}
