package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authn"
	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/coordinator"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tunnel"
)

func registerConnect(api huma.API, h handlers, op func(id, method, path, summary, desc string, extra ...int) huma.Operation) {
	upgrade := map[string]*huma.Response{"101": {Description: "Switching to a websocket."}}
	tun := huma.Operation{OperationID: "connect-workspace-agent-tunnel", Method: http.MethodGet, Path: "/api/v2/workspaceagents/me/tunnel",
		Summary: "Open the agent's tunnel", Tags: []string{"Agents"}, Security: []map[string][]string{{"agent-token": {}}},
		Description: "A websocket (binary messages) carrying yamux, over which the server opens a stream per connection. " +
			"The server pings every 10 s and drops a tunnel whose pings go unanswered for 10 s more.",
		Errors: []int{http.StatusUnauthorized}, Metadata: map[string]any{"audit": false}, Responses: upgrade}
	huma.Register(api, tun, h.tunnel)

	c := op("connect-workspace-agent", http.MethodGet, "/api/v2/workspaceagents/{agent}/connect", "Connect to a workspace agent",
		"An HTTP/1.1 upgrade (Connection: Upgrade, Upgrade: "+tunnel.Protocol+"; after 101 the connection carries raw bytes) joined to the agent's SSH server (kind=ssh: speak SSH over it, as `hearth ssh --stdio` does) or to a TCP port in the workspace (kind=tcp). Only the workspace's owner (and deployment owners) may connect. 503 while the agent is not connected; 502 when the agent cannot reach the port.",
		http.StatusBadGateway, http.StatusServiceUnavailable)
	c.Responses = map[string]*huma.Response{"101": {Description: "Switching to the raw stream (Upgrade: " + tunnel.Protocol + ")."}}
	huma.Register(api, c, h.connect)

	p := op("connect-workspace-agent-pty", http.MethodGet, "/api/v2/workspaceagents/{agent}/pty", "Open a web terminal",
		"A websocket: the server sends the terminal's output as binary messages; the client sends text messages {\"data\": \"input\", \"height\": rows, \"width\": cols} (either part optional; a size resizes). "+
			"reconnect names the session: connecting again with the same ID within the agent's reconnect window (5 minutes by default) reattaches to the same shell and replays its recent output.",
		http.StatusBadGateway, http.StatusServiceUnavailable)
	p.Responses = upgrade
	huma.Register(api, p, h.pty)

	huma.Register(api, huma.Operation{OperationID: "relay-to-workspace-agent", Method: http.MethodGet, Path: relay.PeerPath,
		Summary: "Relay a stream to an agent held by this replica", Tags: []string{"Agents"},
		Description: "Replica to replica: an upgrade to " + tunnel.Protocol + " (raw bytes after 101, as connect-workspace-agent) joined to a stream of an agent whose tunnel this replica holds. Authenticated with a relay ticket (" + relay.TicketHeader + ") signed by another replica; the stream's header in " + relay.StreamHeader + ".",
		Errors:      []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusBadGateway, http.StatusServiceUnavailable},
		Metadata:    map[string]any{"audit": false}, Responses: map[string]*huma.Response{"101": {Description: "Switching to the raw stream."}}}, h.relayPeer)
}

type tunnelInput struct {
	Token   string `header:"Hearth-Agent-Token" doc:"The agent's token."`
	Version string `query:"version" maxLength:"64" doc:"The agent's version."`
}

func (h handlers) tunnel(ctx context.Context, in *tunnelInput) (*huma.StreamResponse, error) {
	a, err := h.callingAgent(ctx, in.Token)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.SetReadLimit(-1)
		h.detach(r, "agent tunnel", func(ctx context.Context) {
			conn := websocket.NetConn(ctx, c, websocket.MessageBinary)
			if a.PreviousToken {
				go h.redeliver(ctx, a.WorkspaceAgent.ID)
			}
			if err := h.Relay.Serve(ctx, a.WorkspaceAgent.ID, conn, in.Version); err != nil {
				h.Logger.Warn("workspace: agent tunnel failed", "agent", a.WorkspaceAgent.ID, "error", err)
			}
			_ = conn.Close()
		})
	}}, nil
}

// detach serves a websocket that lasts as long as an agent (its tunnel, a node's coordination) in
// a goroutine of its own, and lets the request's handler return. The handler's goroutine, deep in
// the middleware with its request and response, would otherwise stay for the connection's life:
// with thousands of agents, tens of KiB of stack and buffers each. serve gets the request's
// context without its end (the request ends at once; the access log shows the upgrade), and a
// panic in it is logged, as the middleware would.
func (h handlers) detach(r *http.Request, what string, serve func(ctx context.Context)) {
	ctx := context.WithoutCancel(r.Context())
	go func() {
		defer func() {
			if p := recover(); p != nil {
				h.Logger.ErrorContext(ctx, "panic while serving a connection", "connection", what, "panic", p, "stack", string(debug.Stack()))
			}
		}()
		serve(ctx)
	}()
}

type connectInput struct {
	AgentPath
	Kind string `query:"kind" enum:"ssh,tcp" required:"true" doc:"ssh: the agent's SSH server; tcp: a port in the workspace."`
	Port int    `query:"port" minimum:"0" maximum:"65535" doc:"With kind=tcp: the port, on the workspace's loopback."`
}

// connectable finds an agent the caller may connect to, and the caller.
func (h handlers) connectable(ctx context.Context, id uuid.UUID) (dbsqlc.GetWorkspaceAgentRow, uuid.UUID, error) {
	if err := authz.Authorize(ctx, authz.ReadWorkspaces); err != nil {
		return dbsqlc.GetWorkspaceAgentRow{}, uuid.Nil, err
	}
	a, err := h.findAgent(ctx, id)
	if err != nil {
		return a, uuid.Nil, err
	}
	if err := allowed(ctx, h.DB.Queries, a.WorkspaceID, a.OwnerID, authz.UseWorkspace); err != nil {
		if errors.Is(err, authz.ErrForbidden) {
			return a, uuid.Nil, huma.Error403Forbidden("Only the workspace's owner, and those it is shared with for use, may connect to its agents.")
		}
		return a, uuid.Nil, err
	}
	actor, err := authz.ActorFrom(ctx)
	return a, actor.UserID, err
}

// stillAllowed reports whether the caller of ctx may still connect to the agent: their token still
// authenticates, and the workspace is still theirs or shared with them. Only a no ends a connection;
// an error reaching the database does not.
func (h handlers) stillAllowed(ctx context.Context, agentID uuid.UUID) bool {
	actor, err := authz.ActorFrom(ctx)
	if err != nil || h.Auth == nil {
		return err == nil
	}
	now, err := h.Auth.Check(ctx, actor.KeyID)
	if err == nil {
		_, _, err = h.connectable(authz.WithActor(ctx, now), agentID)
	}
	var status huma.StatusError
	switch {
	case err == nil, ctx.Err() != nil:
		return true
	case errors.Is(err, authn.ErrInvalidToken), errors.Is(err, authn.ErrSuspended), errors.Is(err, authz.ErrForbidden):
		return false
	case errors.As(err, &status):
		return status.GetStatus() != http.StatusForbidden && status.GetStatus() != http.StatusNotFound
	}
	return true
}

// hold closes a relayed stream once its caller may no longer connect to the agent (a revoked token,
// a workspace no longer shared with them), checked as direct connections are: when a change that
// could end it is announced (looked at every coordinator.CheckInterval), and every
// authz.RecheckInterval; it stops with ctx.
func (h handlers) hold(ctx context.Context, agentID uuid.UUID, st io.Closer) {
	go func() {
		t := time.NewTicker(coordinator.CheckInterval)
		defer t.Stop()
		checked := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				if !h.AuthzChanges.Due(checked, now) {
					continue
				}
				checked = now
				if !h.stillAllowed(ctx, agentID) {
					_ = st.Close()
					return
				}
			}
		}
	}()
}

// dial authorizes a connection to an agent and opens the stream, answering what went wrong as a
// problem before any websocket is accepted.
func (h handlers) dial(ctx context.Context, id uuid.UUID, hdr tunnel.Header) (net.Conn, error) {
	a, _, err := h.connectable(ctx, id)
	if err != nil {
		return nil, err
	}
	st, err := h.Relay.Dial(ctx, a.WorkspaceAgent.ID, hdr)
	var refused *tunnel.RefusedError
	switch {
	case errors.Is(err, relay.ErrNotConnected):
		return nil, huma.Error503ServiceUnavailable(fmt.Sprintf("The agent %s of workspace %s is not connected (%s).", a.WorkspaceAgent.Name, a.WorkspaceName,
			agentStatus(a.WorkspaceAgent, a.ReplicaLastSeenAt, time.Now())))
	case errors.As(err, &refused):
		return nil, huma.Error502BadGateway(refused.Reason)
	case err != nil:
		return nil, err
	}
	if h.Activity != nil {
		h.Activity.Touch(a.WorkspaceID)
	}
	return st, nil
}

func (h handlers) connect(ctx context.Context, in *connectInput) (*huma.StreamResponse, error) {
	hdr := tunnel.Header{Kind: in.Kind}
	if in.Kind == tunnel.KindTCP {
		if in.Port == 0 {
			return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{Location: "query.port", Message: "kind=tcp needs a port"})
		}
		hdr.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(in.Port))
	}
	st, err := h.dial(ctx, in.Agent, hdr)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer func() { _ = st.Close() }()
		r, w := humago.Unwrap(hctx)
		c, err := tunnel.Accept(w, r)
		if err != nil {
			return
		}
		held, cancel := context.WithCancel(ctx)
		defer cancel()
		h.hold(held, in.Agent, st)
		tunnel.Pipe(c, st)
	}}, nil
}

type ptyInput struct {
	AgentPath
	Reconnect uuid.UUID `query:"reconnect" required:"true" doc:"The session's ID, chosen by the client; the same ID reattaches."`
	Height    uint16    `query:"height" doc:"Rows."`
	Width     uint16    `query:"width" doc:"Columns."`
	Command   string    `query:"command" maxLength:"4096" doc:"The command to run instead of the login shell (for a new session)."`
}

// PTYInput is a message from a web terminal's client.
type PTYInput struct {
	Data   string `json:"data,omitempty"`
	Height uint16 `json:"height,omitempty"`
	Width  uint16 `json:"width,omitempty"`
}

func (h handlers) pty(ctx context.Context, in *ptyInput) (*huma.StreamResponse, error) {
	st, err := h.dial(ctx, in.Agent, tunnel.Header{Kind: tunnel.KindPTY,
		PTY: &tunnel.PTY{ID: in.Reconnect.String(), Command: in.Command, Rows: in.Height, Cols: in.Width}})
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer func() { _ = st.Close() }()
		r, w := humago.Unwrap(hctx)
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer func() { _ = c.CloseNow() }()
		held, cancel := context.WithCancel(ctx)
		defer cancel()
		h.hold(held, in.Agent, st)
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			defer cancel()
			for {
				_, data, err := c.Read(ctx)
				if err != nil {
					return
				}
				var m PTYInput
				if json.Unmarshal(data, &m) != nil {
					continue
				}
				if tunnel.Write(st, tunnel.PTYInput(m)) != nil {
					return
				}
			}
		}()
		go func() {
			<-ctx.Done()
			_ = st.Close()
		}()
		buf := make([]byte, 32<<10)
		for {
			n, err := st.Read(buf)
			if n > 0 {
				if c.Write(ctx, websocket.MessageBinary, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				_ = c.Close(websocket.StatusNormalClosure, "the terminal ended")
				return
			}
		}
	}}, nil
}

type relayInput struct {
	Agent string `query:"agent" doc:"The agent's ID."`
}

func (h handlers) relayPeer(_ context.Context, _ *relayInput) (*huma.StreamResponse, error) {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		h.Relay.ServePeer(w, r)
	}}, nil
}
