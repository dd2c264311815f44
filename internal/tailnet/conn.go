package tailnet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/net/dns"
	"tailscale.com/net/netmon"
	"tailscale.com/net/tsdial"
	"tailscale.com/tailcfg"
	"tailscale.com/tsd"
	"tailscale.com/types/key"
	"tailscale.com/types/netmap"
	"tailscale.com/wgengine"
	"tailscale.com/wgengine/filter"
	"tailscale.com/wgengine/magicsock"
	"tailscale.com/wgengine/netstack"
	"tailscale.com/wgengine/router"
	"tailscale.com/wgengine/wgcfg"
)

// Options configure a node.
type Options struct {
	// ID names the node: an agent's ID, or a fresh one for a client.
	ID uuid.UUID
	// DERPMap lists the DERP regions; nil or empty leaves only direct paths.
	DERPMap *tailcfg.DERPMap
	// ListenPort is the UDP port for direct paths (0: any).
	ListenPort uint16
	// Logger takes the node's own events; tailscale's chatter goes to it at debug level.
	Logger *slog.Logger
	// ForwardTCP joins TCP connections to ports nothing Listens on to the same port on this
	// machine's loopback (an agent's port forwarding); without it they are refused.
	ForwardTCP bool
	// EndpointNetworks, when set, are the only networks direct paths may use (the deployment's
	// setting, from the coordinator); EndpointsEnv overrides it.
	EndpointNetworks []netip.Prefix
	// AwaitHandshakes greets new peers with discovery pings only (which open this side's NAT
	// towards them) and leaves the WireGuard handshake to them: an agent, whose clients dial it.
	// Two handshakes that cross, each side greeting the other at once, are both lost, and
	// WireGuard tries again only after 5 s.
	AwaitHandshakes bool
}

// The ports an agent serves on its tailnet address; any other port is forwarded to the workspace.
const (
	PortSSH uint16 = 1
	// PortTunnel takes streams as the agent's tunnel does (a tunnel.Header, then bytes): a replica's
	// own node reaches the agent here for the web terminal, apps and relayed connections.
	PortTunnel    uint16 = 2
	PortSpeedtest uint16 = 3
)

// Conn is one node of the tailnet: it dials and listens on TCP over WireGuard, in userspace.
type Conn struct {
	id       uuid.UUID
	addr     netip.Addr
	log      *slog.Logger
	sys      *tsd.System
	netMon   *netmon.Monitor
	dialer   *tsdial.Dialer
	engine   wgengine.Engine
	magic    *magicsock.Conn
	netstack *netstack.Impl
	priv     key.NodePrivate

	// mu guards the node itself, the listeners and closed. It is never held while calling into the
	// engine, which calls back into the node from its own locks.
	mu        sync.Mutex
	closed    bool
	self      Node
	listeners map[uint16]*listener
	onNode    func(Node)
	forward   bool
	passive   bool // greets without a handshake
	// open are the accepted connections by the peer's address, closed when the peer goes.
	open map[netip.Addr]map[net.Conn]struct{}

	// update serializes changes to the peers; the engine's lookups read the snapshot without a lock.
	update sync.Mutex
	peers  atomic.Pointer[peerSet]
}

// peerSet is an immutable snapshot of the peers.
type peerSet struct {
	byID  map[uuid.UUID]*Node
	byKey map[key.NodePublic]*Node
	byIP  map[netip.Addr]*Node
}

func newPeerSet(nodes map[uuid.UUID]*Node) *peerSet {
	s := &peerSet{byID: nodes, byKey: make(map[key.NodePublic]*Node, len(nodes)), byIP: make(map[netip.Addr]*Node, len(nodes))}
	for _, n := range nodes {
		s.byKey[n.Key] = n
		for _, a := range n.Addresses {
			s.byIP[a.Addr()] = n
		}
	}
	return s
}

// New starts a node. Close it when done.
func New(o Options) (_ *Conn, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logf := func(format string, args ...any) {
		if log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug(fmt.Sprintf(format, args...), "component", "tailnet")
		}
	}
	c := &Conn{id: o.ID, addr: IP(o.ID), log: log, priv: key.NewNode(), listeners: map[uint16]*listener{}, forward: o.ForwardTCP,
		passive: o.AwaitHandshakes, open: map[netip.Addr]map[net.Conn]struct{}{}}
	c.peers.Store(newPeerSet(nil))
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	limitEndpoints(o.EndpointNetworks)
	c.sys = tsd.NewSystem()
	c.netMon, err = netmon.New(c.sys.Bus.Get(), logf)
	if err != nil {
		return nil, fmt.Errorf("tailnet: %w", err)
	}
	c.dialer = &tsdial.Dialer{Logf: logf}
	c.dialer.SetBus(c.sys.Bus.Get())
	c.engine, err = wgengine.NewUserspaceEngine(logf, wgengine.Config{
		EventBus: c.sys.Bus.Get(), ListenPort: o.ListenPort, NetMon: c.netMon, Dialer: c.dialer,
		SetSubsystem: c.sys.Set, ControlKnobs: c.sys.ControlKnobs(), HealthTracker: c.sys.HealthTracker.Get(),
		Metrics: c.sys.UserMetricsRegistry(), Router: router.NewFake(logf)})
	if err != nil {
		return nil, fmt.Errorf("tailnet: the WireGuard engine: %w", err)
	}
	c.sys.Set(c.engine)
	c.magic = c.sys.MagicSock.Get()
	c.netstack, err = netstack.Create(logf, c.sys.Tun.Get(), c.engine, c.magic, c.dialer, c.sys.DNSManager.Get(), c.sys.ProxyMapper())
	if err != nil {
		return nil, fmt.Errorf("tailnet: the network stack: %w", err)
	}
	c.sys.Tun.Get().Start()
	c.netstack.ProcessLocalIPs = true
	c.netstack.GetTCPHandlerForFlow = c.tcpHandler
	if err := c.netstack.Start(nil); err != nil {
		return nil, fmt.Errorf("tailnet: the network stack: %w", err)
	}

	prefix := netip.PrefixFrom(c.addr, 128)
	c.self = Node{ID: o.ID, Key: c.priv.Public(), DiscoKey: c.magic.DiscoPublicKey(), Addresses: []netip.Prefix{prefix}, AsOf: time.Now()}
	self := c.selfView()
	c.engine.SetFilter(filter.NewAllowAllForTest(logf))
	c.engine.SetPeerByIPPacketFunc(c.peerByIP)
	c.engine.SetPeerConfigFunc(c.peerConfig)
	c.engine.SetPeerForIPFunc(c.peerForIP)
	c.engine.SetSelfNode(self)
	c.engine.SetStatusCallback(c.status)
	c.magic.SetNetInfoCallback(c.netInfo)
	// A debug logger also gets magicsock's path discovery: each disco message sent and received.
	c.magic.SetDebugLoggingEnabled(log.Enabled(context.Background(), slog.LevelDebug))
	if err := c.magic.SetPrivateKey(c.priv); err != nil {
		return nil, fmt.Errorf("tailnet: %w", err)
	}
	if err := c.engine.Reconfig(&wgcfg.Config{PrivateKey: c.priv, Addresses: []netip.Prefix{prefix}},
		&router.Config{LocalAddrs: []netip.Prefix{prefix}}, &dns.Config{}); err != nil {
		return nil, fmt.Errorf("tailnet: %w", err)
	}
	c.netstack.UpdateNetstackIPs(&netmap.NetworkMap{SelfNode: self})
	c.magic.SetDERPMap(o.DERPMap)
	c.magic.SetNetworkMap(self, nil)
	c.magic.SetNetworkUp(true)
	c.engine.RequestStatus()
	return c, nil
}

// SetDERPMap replaces the DERP regions (the coordinator sends a new map when a workspace proxy
// starts or stops serving DERP); the node may move its home to a region the new map has.
func (c *Conn) SetDERPMap(m *tailcfg.DERPMap) { c.magic.SetDERPMap(m) }

// Addr is the node's tailnet address.
func (c *Conn) Addr() netip.Addr { return c.addr }

// Node is the node as it stands, to send to the coordinator.
func (c *Conn) Node() Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.self
	n.Endpoints = slices.Clone(n.Endpoints)
	return n
}

// OnNode calls f with the node whenever its endpoints or DERP home change (and once now): the
// caller sends it to the coordinator.
func (c *Conn) OnNode(f func(Node)) {
	c.mu.Lock()
	c.onNode = f
	n := c.self
	c.mu.Unlock()
	f(n)
}

func (c *Conn) selfView() tailcfg.NodeView {
	return (&tailcfg.Node{ID: nodeID(c.id), StableID: tailcfg.StableNodeID(c.id.String()), Key: c.priv.Public(),
		DiscoKey: c.magic.DiscoPublicKey(), Addresses: []netip.Prefix{netip.PrefixFrom(c.addr, 128)},
		AllowedIPs: []netip.Prefix{netip.PrefixFrom(c.addr, 128)}, MachineAuthorized: true}).View()
}

// status takes the engine's endpoints into the node.
func (c *Conn) status(s *wgengine.Status, err error) {
	if err != nil {
		return
	}
	eps := make([]string, 0, len(s.LocalAddrs))
	for _, e := range s.LocalAddrs {
		if allowedEndpoint(e.Addr.Addr()) {
			eps = append(eps, e.Addr.String())
		}
	}
	slices.Sort(eps)
	c.mu.Lock()
	if slices.Equal(eps, c.self.Endpoints) {
		c.mu.Unlock()
		return
	}
	c.self.Endpoints = eps
	c.changedLocked()
}

// netInfo takes the DERP home and latencies into the node.
func (c *Conn) netInfo(ni *tailcfg.NetInfo) {
	c.mu.Lock()
	if ni.PreferredDERP == c.self.PreferredDERP {
		c.mu.Unlock()
		return
	}
	c.self.PreferredDERP = ni.PreferredDERP
	c.self.DERPLatency = ni.DERPLatency
	c.changedLocked()
}

// changedLocked stamps the node and hands it to the OnNode callback, outside the lock.
func (c *Conn) changedLocked() {
	c.self.AsOf = time.Now()
	n, f := c.self, c.onNode
	c.mu.Unlock()
	if f != nil {
		f(n)
	}
}

// SetPeers replaces the nodes this one may reach with peers (the coordinator's view).
func (c *Conn) SetPeers(peers []Node) {
	c.change(func(m map[uuid.UUID]*Node) []key.NodePublic {
		var gone []key.NodePublic
		for id, p := range m {
			gone = append(gone, p.Key)
			delete(m, id)
		}
		for i := range peers {
			p := peers[i]
			m[p.ID] = &p
		}
		return gone
	})
}

// UpdatePeer adds a node or replaces what is known of it.
func (c *Conn) UpdatePeer(p Node) {
	c.change(func(m map[uuid.UUID]*Node) []key.NodePublic {
		var gone []key.NodePublic
		if old, ok := m[p.ID]; ok && old.Key != p.Key {
			gone = append(gone, old.Key)
		}
		m[p.ID] = &p
		return gone
	})
}

// RemovePeer forgets a node: its WireGuard session ends.
func (c *Conn) RemovePeer(id uuid.UUID) {
	c.change(func(m map[uuid.UUID]*Node) []key.NodePublic {
		p, ok := m[id]
		if !ok {
			return nil
		}
		delete(m, id)
		return []key.NodePublic{p.Key}
	})
}

// change edits a copy of the peers, publishes it, and tells the engine: WireGuard sessions of keys
// f returns are reset unless the key is still a peer's.
func (c *Conn) change(f func(map[uuid.UUID]*Node) []key.NodePublic) {
	c.update.Lock()
	defer c.update.Unlock()
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	old := c.peers.Load().byID
	m := maps.Clone(old)
	if m == nil {
		m = map[uuid.UUID]*Node{}
	}
	gone := f(m)
	set := newPeerSet(m)
	c.peers.Store(set)
	views := make([]tailcfg.NodeView, 0, len(m))
	for _, p := range m {
		views = append(views, p.peer().View())
	}
	slices.SortFunc(views, func(a, b tailcfg.NodeView) int { return cmp.Compare(a.ID(), b.ID()) })
	c.magic.SetNetworkMap(c.selfView(), views)
	for _, k := range gone {
		if _, still := set.byKey[k]; !still {
			c.engine.ResetDevicePeer(k)
		}
	}
	c.closeStrangers(set)
	for k := range set.byKey {
		c.engine.SyncDevicePeer(k)
	}
	// Greet a peer that is new or reachable in a new way, so that each side opens its own NAT
	// towards the other even if one side's call-me-maybe was lost (sent before the other had heard
	// of it). The dialing side greets on the data path: that starts the WireGuard handshake and
	// path discovery, with a call-me-maybe through DERP. The answering side pings the peer's
	// endpoints only.
	kind := tailcfg.PingTSMP
	if c.passive {
		kind = tailcfg.PingDisco
	}
	for id, p := range m {
		if o, ok := old[id]; !ok || o.Key != p.Key || o.PreferredDERP != p.PreferredDERP || !slices.Equal(o.Endpoints, p.Endpoints) {
			if p.PreferredDERP != 0 || len(p.Endpoints) > 0 {
				c.engine.Ping(IP(id), kind, 0, func(*ipnstate.PingResult) {})
			}
		}
	}
}

// peerByIP is wireguard's outbound lookup: the peer whose address dst is.
func (c *Conn) peerByIP(dst netip.Addr) (key.NodePublic, bool) {
	if p, ok := c.peers.Load().byIP[dst]; ok {
		return p.Key, true
	}
	return key.NodePublic{}, false
}

// peerConfig is wireguard's peer lookup: a known peer's addresses, or nothing for a stranger.
func (c *Conn) peerConfig(k key.NodePublic) ([]netip.Prefix, bool) {
	if p, ok := c.peers.Load().byKey[k]; ok {
		return slices.Clone(p.Addresses), true
	}
	return nil, false
}

func (c *Conn) peerForIP(ip netip.Addr) (wgengine.PeerForIP, bool) {
	if ip == c.addr {
		return wgengine.PeerForIP{Node: c.selfView(), IsSelf: true, Route: netip.PrefixFrom(ip, 128)}, true
	}
	if p, ok := c.peers.Load().byIP[ip]; ok {
		return wgengine.PeerForIP{Node: p.peer().View(), Route: netip.PrefixFrom(ip, 128)}, true
	}
	return wgengine.PeerForIP{}, false
}

// DialTCP opens a TCP connection to port on the node with the given ID, over WireGuard.
func (c *Conn) DialTCP(ctx context.Context, id uuid.UUID, port uint16) (net.Conn, error) {
	for {
		actx, cancel := context.WithCancel(ctx)
		var redial atomic.Bool
		go c.nudgeHandshake(actx, id, func() { redial.Store(true); cancel() })
		conn, err := c.netstack.DialContextTCPWithBind(actx, c.addr, netip.AddrPortFrom(IP(id), port))
		cancel()
		if err == nil {
			return conn, nil
		}
		if !redial.Load() || ctx.Err() != nil {
			return nil, fmt.Errorf("tailnet: dial %s port %d: %w", id, port, err)
		}
	}
}

// FirstNudge is how long a dial waits for a WireGuard session with its peer before it starts the
// handshake afresh, when neither side's latency to its DERP home is known yet, and the most it
// waits when they are (firstNudge); each later wait is twice the one before, up to a second and a
// bit.
const FirstNudge = 150 * time.Millisecond

// minNudge bounds firstNudge from below: the peer has usually heard of this node by then.
const minNudge = 30 * time.Millisecond

// firstNudge is how long a dial waits before its first nudge: about twice the handshake's round
// trip through DERP (this node's and the peer's latency to their DERP homes, as their netchecks
// measured) and a margin, between minNudge and FirstNudge. Restarting a handshake whose answer is
// still on its way would only delay it, so the wait follows the network: on a fast one a lost
// first handshake costs tens of milliseconds, not 150.
func (c *Conn) firstNudge(peer Node) time.Duration {
	c.mu.Lock()
	mine := homeLatency(c.self)
	c.mu.Unlock()
	theirs := homeLatency(peer)
	if mine == 0 || theirs == 0 {
		return FirstNudge
	}
	return min(max(2*(mine+theirs)+20*time.Millisecond, minNudge), FirstNudge)
}

// homeLatency is a node's latency to its DERP home (0: not measured).
func homeLatency(n Node) time.Duration {
	var best float64
	for _, fam := range []string{"v4", "v6"} {
		if v, ok := n.DERPLatency[fmt.Sprintf("%d-%s", n.PreferredDERP, fam)]; ok && v > 0 && (best == 0 || v < best) {
			best = v
		}
	}
	return time.Duration(best * float64(time.Second))
}

// nudgeHandshake restarts the WireGuard handshake with a peer while ctx lasts and they have no
// session. WireGuard itself tries again only after 5 s, and a first handshake is easily lost: the
// peer had not heard of this node yet, or its answer went through the DERP servers of two replicas
// while this node was connecting to its own, and did not arrive. Restarting the handshake drops
// the packets that waited for it, a dial's SYN among them: once a restarted handshake completes,
// redial is called, so the dial sends its SYN again now rather than at TCP's next retransmission
// (1 s, 3 s, …).
func (c *Conn) nudgeHandshake(ctx context.Context, id uuid.UUID, redial func()) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	last, wait, nudged := time.Now(), FirstNudge, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, ok := c.peers.Load().byID[id]
		if !ok {
			continue
		}
		if !nudged { // the netchecks may have measured since
			wait = c.firstNudge(*p)
		}
		if wp, ok := c.engine.PeerByKey(p.Key); ok && !wp.LastHandshake().IsZero() {
			if nudged {
				redial()
			}
			return
		}
		if time.Since(last) < wait {
			continue
		}
		c.update.Lock()
		if _, still := c.peers.Load().byKey[p.Key]; still {
			c.engine.ResetDevicePeer(p.Key) // forgets the attempt, so the next packet starts one
			c.engine.Ping(IP(id), tailcfg.PingTSMP, 0, func(*ipnstate.PingResult) {})
		}
		c.update.Unlock()
		c.log.Debug("tailnet: no WireGuard session yet; handshaking again", "peer", id, "after", wait)
		last, wait, nudged = time.Now(), min(2*wait, 8*FirstNudge), true
	}
}

// Path is how packets reach a peer.
type Path string

// The paths, from best to worst. PathRelay is not WireGuard's: it is the control plane's websocket
// relay, which callers fall back to when the tailnet gives no path at all.
const (
	PathDirect Path = "direct"
	PathDERP   Path = "DERP"
	PathRelay  Path = "relay"
)

// Pong is the answer to a ping.
type Pong struct {
	Path Path
	// Latency is the round trip of the ping.
	Latency time.Duration
	// Endpoint is the peer's UDP address on a direct path.
	Endpoint string
	// DERPRegion is the region that carried it on a DERP path.
	DERPRegion     int
	DERPRegionCode string
}

// Ping sends one discovery ping to the node with the given ID and says which way the pong came.
func (c *Conn) Ping(ctx context.Context, id uuid.UUID) (Pong, error) {
	// A disco ping only tries the paths already known. A packet on the data path (a TSMP ping,
	// answered or not) starts WireGuard's handshake and with it path discovery, which sends the
	// peer a call-me-maybe through DERP: both sides then ping each other's endpoints at once, and
	// that is what opens a path through NATs on both sides.
	c.engine.Ping(IP(id), tailcfg.PingTSMP, 0, func(*ipnstate.PingResult) {})
	ch := make(chan *ipnstate.PingResult, 1)
	c.engine.Ping(IP(id), tailcfg.PingDisco, 0, func(r *ipnstate.PingResult) {
		select {
		case ch <- r:
		default:
		}
	})
	select {
	case <-ctx.Done():
		return Pong{}, fmt.Errorf("tailnet: no pong from %s: %w", id, ctx.Err())
	case r := <-ch:
		if r.Err != "" {
			return Pong{}, fmt.Errorf("tailnet: ping %s: %s", id, r.Err)
		}
		p := Pong{Latency: time.Duration(r.LatencySeconds * float64(time.Second)), Endpoint: r.Endpoint,
			DERPRegion: r.DERPRegionID, DERPRegionCode: r.DERPRegionCode, Path: PathDERP}
		if r.Endpoint != "" {
			p.Path = PathDirect
		}
		return p, nil
	}
}

// Close stops the node; its connections end.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	ls := c.listeners
	c.listeners = map[uint16]*listener{}
	c.mu.Unlock()
	for _, l := range ls {
		l.close()
	}
	if c.netstack != nil {
		_ = c.netstack.Close()
	}
	if c.engine != nil {
		c.engine.Close()
		<-c.engine.Done()
	}
	if c.netMon != nil {
		_ = c.netMon.Close()
	}
	if c.dialer != nil {
		_ = c.dialer.Close()
	}
	if c.sys != nil {
		c.sys.Bus.Get().Close()
	}
}

// ErrClosed is what a closed listener's Accept returns.
var ErrClosed = errors.New("tailnet: closed")
