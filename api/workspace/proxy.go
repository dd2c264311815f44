package workspace

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/api/region"
	"github.com/hearthdev/hearth/internal/audit"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tickets"
)

// ConnectionTicketTTL is how long a connection ticket opens connections through a proxy.
const ConnectionTicketTTL = time.Minute

// registerProxied adds what workspace proxies need of agents: recording the tunnels they hold, and
// the tickets that let users connect through them.
func registerProxied(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	ticket := op("create-connection-ticket", http.MethodPost, "/api/v2/workspaceagents/{agent}/connection-ticket",
		"Get a ticket to connect through a workspace proxy",
		"A one-minute connection ticket for the agent (as connect-workspace-agent allows: the workspace's owner), and the URL of the workspace proxy that holds the agent's tunnel, if one does: "+
			"connect there (connect-workspace-agent with the ticket in Hearth-Connection-Ticket) and the connection does not pass through the control plane.")
	huma.Register(api, ticket, h.connectionTicket)
	huma.Register(api, region.Operation("connect-proxied-agent", "agents", "Record an agent's tunnel held by a proxy instance",
		"The proxy passes on the agent's token, once the agent opened its tunnel to the instance; the answer names the agent. 409 when the instance is not registered.",
		http.StatusConflict), h.connectProxied)
	disconnect := region.Operation("disconnect-proxied-agent", "agents/{agent}/disconnect", "Record that a proxied agent's tunnel closed",
		"With the connection ID connect-proxied-agent gave.")
	disconnect.DefaultStatus = http.StatusNoContent
	huma.Register(api, disconnect, h.disconnectProxied)
}

type connectionTicketInput struct {
	AgentPath
}

// ConnectionTicketOutput is a ticket and where to use it.
type ConnectionTicketOutput struct {
	Body struct {
		Ticket    string    `json:"ticket" doc:"Send as Hearth-Connection-Ticket to the proxy."`
		ExpiresAt time.Time `json:"expires_at"`
		ProxyURL  string    `json:"proxy_url" doc:"The workspace proxy holding the agent's tunnel; empty when none does (connect through the control plane)."`
	}
}

func (h handlers) connectionTicket(ctx context.Context, in *connectionTicketInput) (*ConnectionTicketOutput, error) {
	a, actor, err := h.connectable(ctx, in.Agent)
	if err != nil {
		return nil, err
	}
	out := &ConnectionTicketOutput{}
	if out.Body.Ticket, err = h.Tickets.Sign(ctx, tickets.KindConnection, actor.String(), a.WorkspaceAgent.ID.String(), ConnectionTicketTTL); err != nil {
		return nil, err
	}
	out.Body.ExpiresAt = time.Now().Add(ConnectionTicketTTL)
	u, err := h.DB.GetAgentProxyURL(ctx, dbsqlc.GetAgentProxyURLParams{ID: a.WorkspaceAgent.ID, FreshSeconds: relay.Fresh.Seconds()})
	if err != nil && !errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, err
	}
	out.Body.ProxyURL = u
	if h.Activity != nil {
		h.Activity.Touch(a.WorkspaceID)
	}
	// A ticket is access to the workspace that no server sees being used: the audit log keeps who got one.
	return out, audit.Record(ctx, h.DB.Queries, audit.Resource{Type: "workspace_agent", ID: a.WorkspaceAgent.ID.String(),
		Name: a.OwnerName + "/" + a.WorkspaceName + "." + a.WorkspaceAgent.Name}, nil)
}

type connectProxiedInput struct {
	region.Instance
	Body struct {
		InstanceID uuid.UUID `json:"instance_id" doc:"The proxy instance holding the tunnel."`
		AgentToken string    `json:"agent_token" doc:"The token the agent opened its tunnel with."`
		Version    string    `json:"version,omitempty" maxLength:"64" doc:"The agent's version."`
	}
}

// ConnectProxiedOutput names the agent and its connection.
type ConnectProxiedOutput struct {
	Body struct {
		AgentID      string `json:"agent_id" format:"uuid"`
		ConnectionID string `json:"connection_id" format:"uuid" doc:"For disconnect-proxied-agent."`
	}
}

func (h handlers) connectProxied(ctx context.Context, in *connectProxiedInput) (*ConnectProxiedOutput, error) {
	p, err := region.Authenticate(ctx, h.DB, in.Token)
	if err != nil {
		return nil, err
	}
	if _, err := h.DB.GetProxyInstance(ctx, dbsqlc.GetProxyInstanceParams{InstanceID: in.Body.InstanceID, ProxyID: &p.ID,
		FreshSeconds: relay.Fresh.Seconds()}); errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, huma.Error409Conflict("The proxy instance is not registered (register-workspace-proxy first, and keep its heartbeat).")
	} else if err != nil {
		return nil, err
	}
	a, err := h.callingAgent(ctx, in.Body.AgentToken)
	if err != nil {
		return nil, err
	}
	conn := uuid.New()
	if err := h.DB.ConnectAgent(ctx, dbsqlc.ConnectAgentParams{ID: a.WorkspaceAgent.ID, ReplicaID: &in.Body.InstanceID, ConnectionID: &conn,
		Version: in.Body.Version}); err != nil {
		return nil, err
	}
	h.Logger.InfoContext(ctx, "workspace: agent connected through a proxy", "agent", a.WorkspaceAgent.ID, "proxy", p.Name)
	out := &ConnectProxiedOutput{}
	out.Body.AgentID, out.Body.ConnectionID = a.WorkspaceAgent.ID.String(), conn.String()
	return out, nil
}

type disconnectProxiedInput struct {
	region.Instance
	Agent uuid.UUID `path:"agent"`
	Body  struct {
		ConnectionID uuid.UUID `json:"connection_id"`
	}
}

func (h handlers) disconnectProxied(ctx context.Context, in *disconnectProxiedInput) (*struct{}, error) {
	if _, err := region.Authenticate(ctx, h.DB, in.Token); err != nil {
		return nil, err
	}
	return nil, h.DB.DisconnectAgent(ctx, dbsqlc.DisconnectAgentParams{ID: in.Agent, ConnectionID: &in.Body.ConnectionID})
}
