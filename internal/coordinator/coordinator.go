// Package coordinator is the control plane's side of the tailnet: it passes nodes (keys, endpoints,
// DERP homes) between an agent and the clients allowed to reach it, and nobody else. Every node a
// replica serves is a row of tailnet_peers; a change is announced with NOTIFY tailnet naming the
// agent, and each replica then sends the agent's new peer set to the nodes of that agent it
// serves. So a client on one replica reaches an agent on another, and the DERP servers of every
// replica admit exactly the node keys in the table.
package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/authz"
	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/relay"
	"github.com/hearthdev/hearth/internal/tailnet"
)

// Channel is the NOTIFY channel of node changes; the payload is the agent's ID.
const Channel = "hearth_tailnet"

// Config configures a coordinator.
type Config struct {
	DB       *db.DB
	Listener *pgnotify.Listener // on Channel
	// ReplicaID is this replica's row in replicas (the relay's ID).
	ReplicaID uuid.UUID
	// DERPMap is the map the deployment starts with; workspace proxies serving DERP add their regions.
	DERPMap tailnet.DERPMap
	// EndpointNetworks are the only networks direct paths may use (CIDR; none: any).
	EndpointNetworks []string
	// Changes says when clients must be checked again (nil: every CheckInterval).
	Changes *authz.Changes
	Logger  *slog.Logger
}

// Coordinator serves this replica's nodes.
type Coordinator struct {
	cfg    Config
	maps   *derpMaps
	direct *Direct

	mu      sync.Mutex
	byAgent map[uuid.UUID]map[*session]struct{}
	ctx     context.Context
	stop    context.CancelFunc
	done    chan struct{}
	// stripes serialize the refreshes of each agent, so an older read of its peers never
	// overtakes a newer one (a revoked client must not come back).
	stripes [64]sync.Mutex
}

// Peer is who a coordination is for.
type Peer struct {
	// ID is the node's ID: the agent's, or the client's connection ID.
	ID      uuid.UUID
	AgentID uuid.UUID
	// UserID is a client's user; nil for the agent.
	UserID *uuid.UUID
	// Check, for a client, is asked whether the client may still reach the agent (its token valid,
	// the workspace still its own or shared with it); an error ends the coordination. It is asked
	// when something that could end that authority changed anywhere in the deployment, and every
	// authz.RecheckInterval whatever happens (Config.Changes).
	Check func(context.Context) error
	// Touch, when set, is called every CheckInterval while the coordination lasts (the client is
	// using the workspace).
	Touch func()
}

// CheckInterval is how often a coordination looks whether its client must be checked again
// (Config.Changes): a revoked token loses its peers within about this long after the change commits.
const CheckInterval = time.Second

// New makes a coordinator; Start it.
func New(cfg Config) *Coordinator {
	c := &Coordinator{cfg: cfg, byAgent: map[uuid.UUID]map[*session]struct{}{}, ctx: context.Background(),
		maps: &derpMaps{static: cfg.DERPMap, db: cfg.DB}}
	c.direct = newDirect(c)
	return c
}

// Direct is the replica's own node, which reaches agents over WireGuard.
func (c *Coordinator) Direct() *Direct { return c.direct }

// Start listens for changes and sweeps the nodes of replicas that died.
func (c *Coordinator) Start(ctx context.Context) {
	ctx, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	c.ctx = ctx
	c.done = make(chan struct{})
	c.cfg.Listener.OnEach(c.changed)
	sent, _ := c.DERPMap(ctx)
	c.direct.startSoon(ctx)
	go func() {
		defer close(c.done)
		t := time.NewTicker(relay.HeartbeatInterval)
		defer t.Stop()
		maps := time.NewTicker(mapFresh)
		defer maps.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				agents, err := c.cfg.DB.DeleteStaleTailnetPeers(ctx, relay.Fresh.Seconds())
				if err != nil {
					c.cfg.Logger.Warn("coordinator: sweeping dead replicas' nodes failed", "error", err)
				}
				c.announce(ctx, agents...)
			case <-maps.C:
				if m, err := c.DERPMap(ctx); err == nil && !sameMap(m, sent) {
					sent = m
					c.sendMap(m)
				}
			}
		}
	}()
}

// Stop forgets this replica's nodes, so their peers drop them now rather than at the sweep.
func (c *Coordinator) Stop(ctx context.Context) {
	if c.stop == nil {
		return
	}
	c.stop()
	<-c.done
	c.direct.close()
	agents, err := c.cfg.DB.DeleteReplicaTailnetPeers(ctx, c.cfg.ReplicaID)
	if err != nil {
		c.cfg.Logger.Warn("coordinator: forgetting this replica's nodes failed", "error", err)
	}
	c.announce(ctx, agents...)
}

func (c *Coordinator) announce(ctx context.Context, agents ...uuid.UUID) {
	slices.SortFunc(agents, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	for _, a := range slices.Compact(agents) {
		if err := pgnotify.Notify(ctx, c.cfg.DB.Pool, Channel, a.String()); err != nil {
			c.cfg.Logger.Warn("coordinator: notify failed", "agent", a, "error", err)
		}
	}
}

// changed is a notification: the peers of one agent (or, with "", of any) may have changed.
func (c *Coordinator) changed(payload string) {
	c.mu.Lock()
	var agents []uuid.UUID
	if payload == "" {
		for a := range c.byAgent {
			agents = append(agents, a)
		}
	} else if id, err := uuid.Parse(payload); err == nil {
		if _, ok := c.byAgent[id]; ok {
			agents = append(agents, id)
		}
	}
	c.mu.Unlock()
	for _, a := range agents {
		go c.refresh(c.ctx, a)
	}
}

// refresh reads an agent's nodes and sends each of this replica's sessions of it the peers it may see.
func (c *Coordinator) refresh(ctx context.Context, agentID uuid.UUID) {
	stripe := &c.stripes[agentID[15]%uint8(len(c.stripes))]
	stripe.Lock()
	defer stripe.Unlock()
	rows, err := c.cfg.DB.ListTailnetPeers(ctx, agentID)
	if err != nil {
		c.cfg.Logger.Warn("coordinator: reading nodes failed", "agent", agentID, "error", err)
		return
	}
	var agent, clients []tailnet.Node
	for _, r := range rows {
		var n tailnet.Node
		if json.Unmarshal(r.Node, &n) != nil {
			continue
		}
		if r.Kind == "agent" {
			agent = append(agent, n)
		} else {
			clients = append(clients, n)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.byAgent[agentID] {
		peers := agent
		if s.kind == "agent" {
			peers = clients
		}
		s.setPeers(peers)
	}
}

// sendMap gives every node this replica serves a new DERP map (a workspace proxy came or went).
func (c *Coordinator) sendMap(m tailnet.DERPMap) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sessions := range c.byAgent {
		for s := range sessions {
			s.setMap(m)
		}
	}
}

// Admit reports whether a DERP client's node key belongs to a node some replica serves.
func (c *Coordinator) Admit(ctx context.Context, nodeKey string) (bool, error) {
	return c.cfg.DB.TailnetKeyKnown(ctx, nodeKey)
}

// ErrKeyTaken refuses a node whose key another node has.
var ErrKeyTaken = errors.New("coordinator: another node has this key or this ID")

// Serve coordinates one node over ws until it leaves, its authority ends or ctx ends.
func (c *Coordinator) Serve(ctx context.Context, ws *websocket.Conn, p Peer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2) // a delivery's and the check's
	s := &session{Peer: p, kind: "client", ctx: ctx,
		deliver: func(ctx context.Context, peers []tailnet.Node, _ bool, m *tailnet.DERPMap) error {
			return write(ctx, ws, tailnet.Update{DERPMap: m, Peers: peers}) // every update has the whole set
		},
		fail: func(err error) {
			errs <- err
			cancel() // ends the read
		}}
	if p.UserID == nil {
		s.kind = "agent"
	}
	s.hold() // the first update goes before any other
	ws.SetReadLimit(tailnet.MaxMessage)
	c.mu.Lock()
	if c.byAgent[p.AgentID] == nil {
		c.byAgent[p.AgentID] = map[*session]struct{}{}
	}
	c.byAgent[p.AgentID][s] = struct{}{}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.byAgent[p.AgentID], s)
		if len(c.byAgent[p.AgentID]) == 0 {
			delete(c.byAgent, p.AgentID)
		}
		c.mu.Unlock()
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer dcancel()
		if err := c.cfg.DB.DeleteTailnetPeer(dctx, dbsqlc.DeleteTailnetPeerParams{ID: p.ID, AgentID: p.AgentID, Kind: s.kind, UserID: p.UserID}); err != nil {
			c.cfg.Logger.Warn("coordinator: forgetting a node failed", "node", p.ID, "error", err)
		}
		c.announce(dctx, p.AgentID)
	}()

	m, err := c.DERPMap(ctx)
	if err != nil {
		c.cfg.Logger.Warn("coordinator: reading the workspace proxies' DERP regions failed; sending the last map", "error", err)
	}
	if err := write(ctx, ws, tailnet.Update{DERPMap: &m, EndpointNetworks: c.cfg.EndpointNetworks, Peers: []tailnet.Node{}}); err != nil {
		return err
	}
	s.release()
	go c.refresh(ctx, p.AgentID)
	if p.Check != nil {
		go func() {
			t := time.NewTicker(CheckInterval)
			defer t.Stop()
			checked := time.Now()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if p.Touch != nil {
					p.Touch()
				}
				now := time.Now()
				if !c.cfg.Changes.Due(checked, now) {
					continue // nothing announced since (or shortly before) the last check
				}
				checked = now
				if err := p.Check(ctx); err != nil {
					errs <- err // before the close ends the read
					_ = ws.Close(websocket.StatusPolicyViolation, truncate(err.Error()))
					return
				}
			}
		}()
	}
	// The node's messages are read here, in the handler's goroutine, and updates are written by a
	// goroutine that lives only while there is one to write: an idle node has no goroutine but
	// its handler's. A failed write or check has ended the read (the context or the websocket is
	// closed), and its error is the one to return.
	err = c.read(ctx, ws, s)
	select {
	case first := <-errs:
		return first
	default:
		return err
	}
}

// read takes the node's messages into tailnet_peers, announcing each change.
func (c *Coordinator) read(ctx context.Context, ws *websocket.Conn, s *session) error {
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return err
		}
		var m tailnet.Message
		if err := json.Unmarshal(data, &m); err != nil || m.Node == nil {
			_ = ws.Close(websocket.StatusUnsupportedData, "want {\"node\": {...}}")
			return fmt.Errorf("coordinator: node %s sent a message that is not a node", s.ID)
		}
		if err := m.Node.Validate(s.ID); err != nil {
			_ = ws.Close(websocket.StatusPolicyViolation, truncate(err.Error()))
			return err
		}
		key, _ := m.Node.Key.MarshalText()
		node, err := json.Marshal(m.Node)
		if err != nil {
			return err
		}
		err = c.cfg.DB.InTx(ctx, func(tx db.Tx) error {
			n, err := tx.UpsertTailnetPeer(ctx, dbsqlc.UpsertTailnetPeerParams{ID: s.ID, AgentID: s.AgentID, Kind: s.kind,
				UserID: s.UserID, ReplicaID: c.cfg.ReplicaID, NodeKey: string(key), Node: node})
			switch {
			case db.IsUniqueViolation(err):
				return ErrKeyTaken
			case err != nil:
				return err
			case n == 0:
				return ErrKeyTaken
			}
			return pgnotify.Notify(ctx, tx.Raw, Channel, s.AgentID.String())
		})
		if errors.Is(err, ErrKeyTaken) {
			_ = ws.Close(websocket.StatusPolicyViolation, "another node has this key or this ID")
			return err
		}
		if err != nil {
			return fmt.Errorf("coordinator: %w", err)
		}
	}
}

func write(ctx context.Context, ws *websocket.Conn, u tailnet.Update) error {
	if u.Peers == nil {
		u.Peers = []tailnet.Node{}
	}
	data, err := json.Marshal(u)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return ws.Write(wctx, websocket.MessageText, data)
}

// truncate fits a reason into a websocket close frame.
func truncate(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}
