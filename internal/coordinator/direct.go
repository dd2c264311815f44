package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hearthdev/hearth/internal/db"
	"github.com/hearthdev/hearth/internal/db/dbsqlc"
	"github.com/hearthdev/hearth/internal/pgnotify"
	"github.com/hearthdev/hearth/internal/tailnet"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// Timings of a replica's own node.
const (
	// DirectWait bounds a connection over WireGuard from the replica's node, handshake and the
	// agent's answer included; past it the connection goes through the relay.
	DirectWait = time.Second
	// directRetry is how long after a failed attempt the node leaves an agent to the relay.
	directRetry = 10 * time.Second
	// directIdle is how long the node keeps coordinating with an agent nobody connects to.
	directIdle = 5 * time.Minute
	// hearWait bounds the wait for the coordinator's first word on an agent's node.
	hearWait = 2 * time.Second
)

// ErrNoDirectPath means the replica's node cannot reach the agent now (no node of the agent is
// known, or an attempt failed moments ago): the caller takes the relay.
var ErrNoDirectPath = errors.New("coordinator: no WireGuard path to the agent")

// Direct is a replica's own node on the tailnet. The replica reaches the agents whose tunnels it
// does not hold (another replica or a workspace proxy holds them) over it, for the web terminal,
// apps and relayed connections: WireGuard directly to the agent, or through DERP, rather than
// through the replica that holds the tunnel. It is started at the first connection and
// coordinates with each agent it is asked for, in-process, until the agent is idle for directIdle.
type Direct struct {
	c   *Coordinator
	id  uuid.UUID
	log *slog.Logger

	mu      sync.Mutex
	conn    *tailnet.Conn
	agents  map[uuid.UUID]*reach
	closed  bool
	publish chan struct{}
	done    chan struct{}
}

// reach is the node's coordination with one agent.
type reach struct {
	agentID uuid.UUID
	s       *session
	cancel  context.CancelFunc
	heard   chan struct{} // closed at the coordinator's first peer set
	known   atomic.Bool   // the agent's node, with a way to reach it, is in the last set

	// Under Direct.mu:
	open   int       // connections now
	used   time.Time // last asked for
	failed time.Time // last failed attempt
}

func newDirect(c *Coordinator) *Direct {
	return &Direct{c: c, id: uuid.New(), log: c.cfg.Logger, agents: map[uuid.UUID]*reach{},
		publish: make(chan struct{}, 1), done: make(chan struct{})}
}

// Dial opens a stream to the agent asking for h over WireGuard, and says by which path it went
// (tailnet.PathDirect or tailnet.PathDERP). ErrNoDirectPath, or any error but the agent's
// refusal (*tunnel.RefusedError), leaves the stream to the relay.
func (d *Direct) Dial(ctx context.Context, agentID uuid.UUID, h tunnel.Header) (net.Conn, tailnet.Path, error) {
	conn, r, err := d.reach(ctx, agentID)
	if err != nil {
		return nil, "", err
	}
	hctx, cancel := context.WithTimeout(ctx, hearWait)
	select {
	case <-r.heard:
	case <-hctx.Done():
	}
	cancel()
	if !r.known.Load() {
		d.release(r, false)
		return nil, "", ErrNoDirectPath
	}
	dctx, cancel := context.WithTimeout(ctx, DirectWait)
	defer cancel()
	c, err := conn.DialTCP(dctx, agentID, tailnet.PortTunnel)
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(DirectWait))
		if err = tunnel.Request(c, h); err != nil {
			_ = c.Close()
		}
	}
	var refused *tunnel.RefusedError
	if err != nil && !errors.As(err, &refused) {
		d.release(r, true)
		return nil, "", fmt.Errorf("%w: %w", ErrNoDirectPath, err)
	}
	if err != nil {
		d.release(r, false)
		return nil, "", err
	}
	_ = c.SetDeadline(time.Time{})
	path := tailnet.PathDERP
	for _, p := range conn.Paths() {
		if p.ID == agentID && p.Path == tailnet.PathDirect {
			path = tailnet.PathDirect
		}
	}
	return &directConn{Conn: c, done: func() { d.release(r, false) }}, path, nil
}

// start starts the node in the background, so it has found its DERP home and endpoints before the
// first connection needs it.
func (d *Direct) startSoon(ctx context.Context) {
	go func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.conn == nil && !d.closed {
			if err := d.start(ctx); err != nil {
				d.log.Warn("coordinator: the replica's own node did not start; agents on other replicas are reached through the relay", "error", err)
			}
		}
	}()
}

// Owns reports whether nodeKey ("nodekey:HEX") is the replica's node's: this replica's DERP server
// admits it before the node coordinates with any agent.
func (d *Direct) Owns(nodeKey string) bool {
	d.mu.Lock()
	conn := d.conn
	d.mu.Unlock()
	if conn == nil {
		return false
	}
	k, _ := conn.Node().Key.MarshalText()
	return string(k) == nodeKey
}

// reach starts the node if it has not started, and its coordination with the agent if it has none,
// and counts a connection on it (release ends the count).
func (d *Direct) reach(ctx context.Context, agentID uuid.UUID) (*tailnet.Conn, *reach, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, nil, ErrNoDirectPath
	}
	if r := d.agents[agentID]; r != nil {
		if time.Since(r.failed) < directRetry {
			return nil, nil, ErrNoDirectPath
		}
		if !r.failed.IsZero() {
			// Tell the agent of this node again, in case what it knew was lost.
			if err := d.write(ctx, d.conn.Node(), agentID); err != nil {
				return nil, nil, err
			}
			r.failed = time.Time{}
		}
		r.open++
		r.used = time.Now()
		return d.conn, r, nil
	}
	if d.conn == nil {
		if err := d.start(ctx); err != nil {
			return nil, nil, err
		}
	}
	// The agent hears of this node before this node greets it: DERP admits the node's key only
	// once it is in tailnet_peers.
	if err := d.write(ctx, d.conn.Node(), agentID); err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithCancel(d.c.ctx)
	r := &reach{agentID: agentID, cancel: cancel, heard: make(chan struct{}), open: 1, used: time.Now()}
	r.s = &session{Peer: Peer{ID: d.id, AgentID: agentID}, kind: "server", ctx: sctx, deliver: r.follow(d.conn)}
	d.agents[agentID] = r
	d.c.mu.Lock()
	if d.c.byAgent[agentID] == nil {
		d.c.byAgent[agentID] = map[*session]struct{}{}
	}
	d.c.byAgent[agentID][r.s] = struct{}{}
	d.c.mu.Unlock()
	go d.c.refresh(sctx, agentID)
	return d.conn, r, nil
}

// start starts the node (under mu). Its first DERP connection is to this replica, which admits it.
func (d *Direct) start(ctx context.Context) error {
	m, err := d.c.DERPMap(ctx)
	if err != nil {
		d.log.Warn("coordinator: reading the workspace proxies' DERP regions failed; the replica's node starts with the last map", "error", err)
	}
	dm, err := m.Tailscale()
	if err != nil {
		return err
	}
	nets, err := tailnet.ParseNetworks(d.c.cfg.EndpointNetworks)
	if err != nil {
		return err
	}
	conn, err := tailnet.New(tailnet.Options{ID: d.id, DERPMap: dm, EndpointNetworks: nets, Logger: d.log})
	if err != nil {
		return err
	}
	d.conn = conn
	conn.OnNode(func(tailnet.Node) {
		select {
		case d.publish <- struct{}{}:
		default:
		}
	})
	go d.loop(conn)
	return nil
}

// loop tells the coordinator of the node's changes (for every agent it reaches) and forgets the
// agents nobody used for directIdle, until the node closes.
func (d *Direct) loop(conn *tailnet.Conn) {
	defer close(d.done)
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		select {
		case <-d.c.ctx.Done():
			return
		case <-d.publish:
			d.mu.Lock()
			agents := make([]uuid.UUID, 0, len(d.agents))
			for id := range d.agents {
				agents = append(agents, id)
			}
			d.mu.Unlock()
			if len(agents) == 0 {
				continue
			}
			ctx, cancel := context.WithTimeout(d.c.ctx, 10*time.Second)
			if err := d.write(ctx, conn.Node(), agents...); err != nil && ctx.Err() == nil {
				d.log.Warn("coordinator: recording the replica's node failed", "error", err)
			}
			cancel()
		case <-sweep.C:
			d.forgetIdle(conn)
		}
	}
}

// write records the node as a peer of each agent and tells their replicas.
func (d *Direct) write(ctx context.Context, n tailnet.Node, agents ...uuid.UUID) error {
	key, _ := n.Key.MarshalText()
	node, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return d.c.cfg.DB.InTx(ctx, func(tx db.Tx) error {
		if err := tx.UpsertTailnetServerNode(ctx, dbsqlc.UpsertTailnetServerNodeParams{ID: d.id, ReplicaID: d.c.cfg.ReplicaID,
			NodeKey: string(key), Node: node, AgentIds: agents}); err != nil {
			return err
		}
		for _, a := range agents {
			if err := pgnotify.Notify(ctx, tx.Raw, Channel, a.String()); err != nil {
				return err
			}
		}
		return nil
	})
}

// follow gives the node what the coordinator says of the agent.
func (r *reach) follow(conn *tailnet.Conn) func(context.Context, []tailnet.Node, bool, *tailnet.DERPMap) error {
	var once sync.Once
	return func(_ context.Context, peers []tailnet.Node, changed bool, m *tailnet.DERPMap) error {
		if m != nil {
			if dm, err := m.Tailscale(); err == nil {
				conn.SetDERPMap(dm)
			}
		}
		if !changed {
			return nil
		}
		present, usable := false, false
		for _, p := range peers {
			if p.ID != r.agentID {
				continue
			}
			present = true
			// An agent that has just started has no DERP home or endpoint yet: a handshake sent
			// now would be lost.
			if p.PreferredDERP != 0 || len(p.Endpoints) > 0 {
				usable = true
				conn.UpdatePeer(p)
			}
		}
		if !present {
			conn.RemovePeer(r.agentID)
		}
		r.known.Store(usable)
		once.Do(func() { close(r.heard) })
		return nil
	}
}

// release ends a connection's count; failed marks the agent as one to leave to the relay for a while.
func (d *Direct) release(r *reach, failed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r.open--
	if failed {
		r.failed = time.Now()
	}
}

// forgetIdle ends the coordinations with agents nobody has connected to for directIdle. It holds
// mu throughout, so a new connection to one of them writes its row after this has deleted it.
func (d *Direct) forgetIdle(conn *tailnet.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, r := range d.agents {
		if r.open == 0 && time.Since(r.used) > directIdle {
			delete(d.agents, id)
			d.forget(conn, r)
		}
	}
}

// forget ends the coordination with one agent (under mu).
func (d *Direct) forget(conn *tailnet.Conn, r *reach) {
	r.cancel()
	d.c.mu.Lock()
	delete(d.c.byAgent[r.agentID], r.s)
	if len(d.c.byAgent[r.agentID]) == 0 {
		delete(d.c.byAgent, r.agentID)
	}
	d.c.mu.Unlock()
	conn.RemovePeer(r.agentID)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(d.c.ctx), 5*time.Second)
	defer cancel()
	if err := d.c.cfg.DB.DeleteTailnetPeer(ctx, dbsqlc.DeleteTailnetPeerParams{ID: d.id, AgentID: r.agentID, Kind: "server"}); err != nil {
		d.log.Warn("coordinator: forgetting the replica's node failed", "agent", r.agentID, "error", err)
	}
	d.c.announce(ctx, r.agentID)
}

// close stops the node; the coordinator's Stop forgets its rows with the replica's others.
func (d *Direct) close() {
	d.mu.Lock()
	d.closed = true
	conn := d.conn
	d.mu.Unlock()
	if conn == nil {
		return
	}
	<-d.done
	conn.Close()
}

// directConn is a connection over the replica's node; closing it ends its count.
type directConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *directConn) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}

// CloseWrite half-closes the connection, so tunnel.Pipe keeps the other direction flowing.
func (c *directConn) CloseWrite() error {
	if hc, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return hc.CloseWrite()
	}
	return c.Close()
}
