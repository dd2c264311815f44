// Package relay holds agents' tunnels on a server replica and reaches any agent from any replica.
// Each replica registers itself in PostgreSQL (id, relay address, last seen) and records, on the
// agent's row, that it holds the agent's tunnel. A replica asked for a connection to an agent whose
// tunnel another replica holds forwards it there: a websocket to the other replica's relay address,
// authenticated with a short-lived relay ticket signed with the deployment's keys.
package relay

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/yamux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/hub"
	"github.com/hearthdev/hearth/internal/tailnet"
	"github.com/hearthdev/hearth/internal/tickets"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// Timings of the replica registry: a replica touches its row every HeartbeatInterval and is taken
// for gone (with every tunnel it held) once unseen for Fresh.
const (
	HeartbeatInterval = 10 * time.Second
	Fresh             = 30 * time.Second
)

// Headers of a replica-to-replica request, and where a replica (or a workspace proxy) accepts them.
const (
	TicketHeader = hub.TicketHeader
	StreamHeader = hub.StreamHeader
	PeerPath     = hub.PeerPath
)

// ErrNotConnected means no replica holds a tunnel of the agent.
var ErrNotConnected = hub.ErrNotConnected

// Config configures a replica's relay.
type Config struct {
	DB      *db.DB
	Tickets *tickets.Signer
	// Address is the base URL where other replicas reach this one (http://10.0.0.5:3000).
	Address  string
	Hostname string
	Version  string
	Logger   *slog.Logger
	// Touch, when set, is called with an agent's ID whenever a connection to it opens (activity).
	Touch func(agentID uuid.UUID)
}

// Direct reaches agents over WireGuard from the replica's own node (coordinator.Direct): it says
// by which path a stream went (direct or DERP), and a refusal is the agent's (*tunnel.RefusedError);
// any other error leaves the stream to the relay.
type Direct interface {
	Dial(ctx context.Context, agentID uuid.UUID, h tunnel.Header) (net.Conn, tailnet.Path, error)
}

// Relay is one replica's end of every tunnel it holds.
type Relay struct {
	cfg Config
	// ID is the replica's ID, new at every start.
	ID uuid.UUID

	hub     hub.Hub
	direct  atomic.Pointer[Direct]
	streams *prometheus.CounterVec

	stop chan struct{}
	done chan struct{}
}

// New makes a relay; Start registers it.
func New(cfg Config) *Relay {
	return &Relay{cfg: cfg, ID: uuid.New(), stop: make(chan struct{}), done: make(chan struct{}),
		streams: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hearth_agent_streams_total",
			Help: "Streams this replica opened to agents (terminals, apps, relayed connections), by path: tunnel (the agent's tunnel is held here), direct or derp (WireGuard from this replica's node), relay (through the replica or workspace proxy holding the tunnel)."},
			[]string{"path"})}
}

// SetDirect lets the relay reach agents whose tunnels it does not hold over WireGuard first.
func (r *Relay) SetDirect(d Direct) { r.direct.Store(&d) }

// Metrics counts the streams by path.
func (r *Relay) Metrics() prometheus.Collector { return r.streams }

// Start registers the replica and keeps its row fresh until Stop.
func (r *Relay) Start(ctx context.Context) error {
	if err := r.cfg.DB.UpsertReplica(ctx, dbsqlc.UpsertReplicaParams{ID: r.ID, Hostname: r.cfg.Hostname,
		RelayAddress: r.cfg.Address, Version: r.cfg.Version}); err != nil {
		return fmt.Errorf("relay: register replica: %w", err)
	}
	go func() {
		defer close(r.done)
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				c, cancel := context.WithTimeout(context.WithoutCancel(ctx), HeartbeatInterval)
				if err := r.cfg.DB.TouchReplica(c, r.ID); err != nil {
					r.cfg.Logger.Warn("relay: replica heartbeat failed", "error", err)
				}
				_ = r.cfg.DB.DeleteOldReplicas(c)
				cancel()
			}
		}
	}()
	return nil
}

// Stop marks the replica stopped and closes every tunnel it holds; agents reconnect to another.
func (r *Relay) Stop(ctx context.Context) error {
	close(r.stop)
	<-r.done
	r.hub.CloseAll()
	if err := r.cfg.DB.StopReplica(ctx, r.ID); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	return nil
}

// sessionConfig is the tunnel's yamux configuration (tests shorten its timings).
var sessionConfig = tunnel.Config

// Serve holds an agent's tunnel over conn until it closes or ctx ends. A second tunnel of the same
// agent replaces the first.
func (r *Relay) Serve(ctx context.Context, agentID uuid.UUID, conn net.Conn, version string) error {
	// This goroutine, which waits for the session's end anyway, pings the agent itself instead of
	// yamux's keepalive goroutine: one goroutine (and its stack) fewer for every agent connected.
	cfg := sessionConfig()
	cfg.EnableKeepAlive = false
	session, err := yamux.Client(conn, cfg)
	if err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	connID := uuid.New()
	release := r.hub.Hold(agentID, session)
	defer func() {
		release()
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.cfg.DB.DisconnectAgent(c, dbsqlc.DisconnectAgentParams{ID: agentID, ConnectionID: &connID}); err != nil {
			r.cfg.Logger.Warn("relay: recording a disconnection failed", "agent", agentID, "error", err)
		}
		r.cfg.Logger.Info("relay: agent disconnected", "agent", agentID)
	}()
	if err := r.cfg.DB.ConnectAgent(ctx, dbsqlc.ConnectAgentParams{ID: agentID, ReplicaID: &r.ID, ConnectionID: &connID, Version: version}); err != nil {
		return fmt.Errorf("relay: record connection: %w", err)
	}
	r.cfg.Logger.Info("relay: agent connected", "agent", agentID)
	// As yamux's keepalive would: an agent that does not answer within the write timeout is gone,
	// and so is its tunnel.
	if err := tunnel.Hold(ctx, session, cfg.KeepAliveInterval); err != nil {
		r.cfg.Logger.Info("relay: the agent stopped answering pings", "agent", agentID, "error", err)
	}
	return nil
}

// Holds reports whether this replica holds the agent's tunnel now.
func (r *Relay) Holds(agentID uuid.UUID) bool { return r.hub.Holds(agentID) }

// Dial opens a stream to an agent asking for h, through whichever replica holds its tunnel.
func (r *Relay) Dial(ctx context.Context, agentID uuid.UUID, h tunnel.Header) (net.Conn, error) {
	if r.cfg.Touch != nil {
		r.cfg.Touch(agentID)
	}
	if st, err := r.hub.Open(agentID, h); !errors.Is(err, ErrNotConnected) {
		if err == nil {
			r.streams.WithLabelValues("tunnel").Inc()
		}
		return st, err
	}
	var refused *tunnel.RefusedError
	if d := r.direct.Load(); d != nil && h.Kind != tunnel.KindReinit {
		st, path, err := (*d).Dial(ctx, agentID, h)
		switch {
		case err == nil:
			r.streams.WithLabelValues(strings.ToLower(string(path))).Inc()
			return st, nil
		case errors.As(err, &refused):
			return nil, err
		}
		r.cfg.Logger.Debug("relay: no WireGuard path to the agent; relaying", "agent", agentID, "error", err)
	}
	peer, err := r.cfg.DB.GetAgentRelay(ctx, dbsqlc.GetAgentRelayParams{ID: agentID, FreshSeconds: Fresh.Seconds()})
	if errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, ErrNotConnected
	}
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	if peer.ID == r.ID {
		// Our own row, but the tunnel is gone (closed an instant ago).
		return nil, ErrNotConnected
	}
	st, err := r.dialPeer(ctx, peer.RelayAddress, agentID, h)
	if err == nil {
		r.streams.WithLabelValues("relay").Inc()
	}
	return st, err
}

func (r *Relay) dialPeer(ctx context.Context, address string, agentID uuid.UUID, h tunnel.Header) (net.Conn, error) {
	ticket, err := r.cfg.Tickets.Sign(ctx, tickets.KindRelay, r.ID.String(), agentID.String(), time.Minute)
	if err != nil {
		return nil, fmt.Errorf("relay: %w", err)
	}
	head, _ := json.Marshal(h)
	url := strings.TrimSuffix(address, "/") + PeerPath + "?agent=" + agentID.String()
	c, res, err := tunnel.Dial(ctx, url, http.Header{TicketHeader: {ticket}, StreamHeader: {base64.RawURLEncoding.EncodeToString(head)}})
	if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
		defer func() { _ = res.Body.Close() }()
		var p struct {
			Detail string `json:"detail"`
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		_ = json.Unmarshal(body, &p)
		switch {
		case res.StatusCode == http.StatusBadGateway && p.Detail != "":
			return nil, &tunnel.RefusedError{Reason: p.Detail}
		case res.StatusCode == http.StatusServiceUnavailable:
			return nil, ErrNotConnected
		}
	}
	if err != nil {
		return nil, fmt.Errorf("relay: reach replica %s: %w", address, err)
	}
	return c, nil
}

// ServePeer accepts a stream forwarded by another replica (PeerPath).
func (r *Relay) ServePeer(w http.ResponseWriter, req *http.Request) {
	r.hub.ServePeer(w, req, r.cfg.Tickets.KeySet, r.cfg.Logger)
}
