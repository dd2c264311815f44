// Package hub holds the agents' tunnels one process has and opens streams to them, and serves the
// streams another process relays to it. It has no database: the control plane's relay (which records
// in PostgreSQL where each tunnel is) and the workspace proxy (which has the control plane record it)
// both hold their tunnels here.
package hub

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/google/uuid"
	"github.com/hashicorp/yamux"

	"github.com/hearthdev/hearth/internal/ticketkeys"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// ConnectionTicketHeader carries a user's connection ticket to a workspace proxy.
const ConnectionTicketHeader = "Hearth-Connection-Ticket"

// Headers of a relayed stream's request, and where it is accepted.
const (
	TicketHeader = "Hearth-Relay-Ticket"
	StreamHeader = "Hearth-Relay-Stream"
	PeerPath     = "/api/v2/replicas/relay"
)

// ErrNotConnected means the hub holds no tunnel of the agent.
var ErrNotConnected = errors.New("the agent is not connected")

// Hub holds tunnels by agent ID; the zero value is ready.
type Hub struct {
	mu      sync.Mutex
	tunnels map[uuid.UUID]*yamux.Session
}

// Hold makes session the agent's tunnel, closing the one it replaces. release forgets it again, unless
// a newer tunnel of the agent replaced it meanwhile.
func (h *Hub) Hold(agentID uuid.UUID, session *yamux.Session) (release func()) {
	h.mu.Lock()
	if h.tunnels == nil {
		h.tunnels = map[uuid.UUID]*yamux.Session{}
	}
	old := h.tunnels[agentID]
	h.tunnels[agentID] = session
	h.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	return func() {
		h.mu.Lock()
		if h.tunnels[agentID] == session {
			delete(h.tunnels, agentID)
		}
		h.mu.Unlock()
		_ = session.Close()
	}
}

// Holds reports whether the hub holds a tunnel of the agent.
func (h *Hub) Holds(agentID uuid.UUID) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tunnels[agentID] != nil
}

// Open opens a stream asking for hdr on the agent's tunnel: ErrNotConnected without one, a
// *tunnel.RefusedError when the agent says no.
func (h *Hub) Open(agentID uuid.UUID, hdr tunnel.Header) (net.Conn, error) {
	h.mu.Lock()
	s := h.tunnels[agentID]
	h.mu.Unlock()
	if s == nil {
		return nil, ErrNotConnected
	}
	st, err := tunnel.Open(s, hdr)
	var refused *tunnel.RefusedError
	switch {
	case errors.As(err, &refused):
		return nil, err
	case err != nil:
		return nil, ErrNotConnected
	}
	return st, nil
}

// CloseAll closes every tunnel; their agents reconnect elsewhere.
func (h *Hub) CloseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.tunnels {
		_ = s.Close()
	}
}

// ServePeer accepts a stream relayed to one of the hub's agents (PeerPath), authenticated with a
// relay ticket for that agent that keys verifies.
func (h *Hub) ServePeer(w http.ResponseWriter, req *http.Request, keys func(context.Context) (*ticketkeys.KeySet, error), log *slog.Logger) {
	agentID, err := uuid.Parse(req.URL.Query().Get("agent"))
	if err != nil {
		Fail(w, http.StatusBadRequest, "agent must be an agent's ID.")
		return
	}
	set, err := keys(req.Context())
	if err != nil {
		log.Error("hub: loading the ticket keys failed", "error", err)
		Fail(w, http.StatusInternalServerError, "The ticket keys could not be loaded.")
		return
	}
	claims, err := set.Verify(req.Header.Get(TicketHeader), ticketkeys.KindRelay)
	if err != nil || claims.Resource != agentID.String() {
		Fail(w, http.StatusUnauthorized, "A valid relay ticket for this agent is required in "+TicketHeader+".")
		return
	}
	var hdr tunnel.Header
	raw, err := base64.RawURLEncoding.DecodeString(req.Header.Get(StreamHeader))
	if err != nil || json.Unmarshal(raw, &hdr) != nil {
		Fail(w, http.StatusBadRequest, StreamHeader+" must be a base64url JSON stream header.")
		return
	}
	h.ServeStream(w, req, agentID, hdr)
}

// ServeStream opens a stream to the agent and joins it to the request's upgraded connection, or
// answers why it cannot: 503 without a tunnel, 502 when the agent refuses.
func (h *Hub) ServeStream(w http.ResponseWriter, req *http.Request, agentID uuid.UUID, hdr tunnel.Header) {
	st, err := h.Open(agentID, hdr)
	var refused *tunnel.RefusedError
	switch {
	case errors.As(err, &refused):
		Fail(w, http.StatusBadGateway, refused.Reason)
		return
	case err != nil:
		Fail(w, http.StatusServiceUnavailable, ErrNotConnected.Error())
		return
	}
	defer func() { _ = st.Close() }()
	c, err := tunnel.Accept(w, req)
	if err != nil {
		return
	}
	tunnel.Pipe(c, st)
}

// Fail answers a problem (RFC 9457) outside huma.
func Fail(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}
