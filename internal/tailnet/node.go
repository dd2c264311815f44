// Package tailnet owns Hearth's WireGuard network: a node in userspace (tailscale.com's wgengine,
// magicsock and netstack, no TUN device), the messages the control plane's coordinator exchanges
// between nodes, and the DERP map. The agent, the CLI and the server import it; it imports nothing
// of the control plane.
//
// There is no Tailscale control server. Each node tells the coordinator its Node (keys, endpoints,
// DERP home) and learns, from the coordinator, the nodes it may reach: a client learns the agent it
// asked for, an agent the clients that asked for it. WireGuard then finds a direct path (UDP, with
// NAT traversal) or falls back to DERP, which every server replica serves.
package tailnet

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

// Prefix is the range every Hearth node's address is in: a unique-local IPv6 /64 of its own, so a
// workspace's tailnet never collides with the networks it runs in.
var Prefix = netip.MustParsePrefix("fd7a:115c:a1e0:4852::/64")

// IP is the tailnet address of a node: Prefix followed by the first 8 bytes of its ID. An agent's
// address follows from its ID, so a client knows where to dial before it hears from the agent.
func IP(id uuid.UUID) netip.Addr {
	b := Prefix.Addr().As16()
	copy(b[8:], id[:8])
	return netip.AddrFrom16(b)
}

// Node is what a node tells the coordinator about itself, and what the coordinator passes on to the
// nodes allowed to reach it.
type Node struct {
	// ID is the agent's ID, or a client's connection ID.
	ID uuid.UUID `json:"id"`
	// Key is the node's WireGuard public key.
	Key key.NodePublic `json:"key"`
	// DiscoKey is the key of its path discovery messages.
	DiscoKey key.DiscoPublic `json:"disco"`
	// Addresses are its tailnet addresses (IP(ID)/128).
	Addresses []netip.Prefix `json:"addresses"`
	// Endpoints are the UDP addresses it may be reached at directly.
	Endpoints []string `json:"endpoints"`
	// PreferredDERP is its home DERP region (0: none yet).
	PreferredDERP int `json:"preferred_derp"`
	// DERPLatency is its latency to each DERP region (seconds, by "REGION-v4"/"REGION-v6").
	DERPLatency map[string]float64 `json:"derp_latency,omitempty"`
	// AsOf is when the node last changed.
	AsOf time.Time `json:"as_of"`
}

// MaxEndpoints bounds a node's endpoints: a real node has a handful.
const MaxEndpoints = 64

// Validate checks a node as the coordinator receives it from the peer with the given ID: its keys
// are set, its address is the one its ID gives, and its endpoints parse.
func (n *Node) Validate(id uuid.UUID) error {
	switch {
	case n.ID != id:
		return fmt.Errorf("tailnet: the node says it is %s, but this connection is %s", n.ID, id)
	case n.Key.IsZero():
		return errors.New("tailnet: the node has no key")
	case n.DiscoKey.IsZero():
		return errors.New("tailnet: the node has no disco key")
	case len(n.Addresses) != 1 || n.Addresses[0] != netip.PrefixFrom(IP(id), 128):
		return fmt.Errorf("tailnet: the node's address must be %s/128", IP(id))
	case len(n.Endpoints) > MaxEndpoints:
		return fmt.Errorf("tailnet: the node has %d endpoints, more than %d", len(n.Endpoints), MaxEndpoints)
	case len(n.DERPLatency) > 4*MaxEndpoints:
		return errors.New("tailnet: the node reports too many DERP latencies")
	}
	for _, e := range n.Endpoints {
		if _, err := netip.ParseAddrPort(e); err != nil {
			return fmt.Errorf("tailnet: endpoint %q: %w", e, err)
		}
	}
	return nil
}

// nodeID is the numeric ID tailscale's types want, from the node's ID.
func nodeID(id uuid.UUID) tailcfg.NodeID {
	h := sha256.Sum256(id[:])
	return tailcfg.NodeID(binary.BigEndian.Uint64(h[:8]) >> 2) //nolint:gosec // positive by the shift
}

// peer is n as tailscale's engine wants a peer.
func (n *Node) peer() *tailcfg.Node {
	eps := make([]netip.AddrPort, 0, len(n.Endpoints))
	for _, e := range n.Endpoints {
		if ap, err := netip.ParseAddrPort(e); err == nil && allowedEndpoint(ap.Addr()) {
			eps = append(eps, ap)
		}
	}
	return &tailcfg.Node{
		ID:                nodeID(n.ID),
		StableID:          tailcfg.StableNodeID(n.ID.String()),
		Name:              n.ID.String() + ".hearth.",
		Key:               n.Key,
		DiscoKey:          n.DiscoKey,
		Addresses:         n.Addresses,
		AllowedIPs:        n.Addresses,
		Endpoints:         eps,
		HomeDERP:          n.PreferredDERP,
		Hostinfo:          (&tailcfg.Hostinfo{}).View(),
		Online:            new(true),
		MachineAuthorized: true,
	}
}
