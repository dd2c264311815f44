package tailnet

import (
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"tailscale.com/ipn/ipnstate"
)

// PeerPath is how one peer's WireGuard packets travel now, as this node sees it.
type PeerPath struct {
	ID uuid.UUID
	// Path is PathDirect or PathDERP; empty while no packet has passed.
	Path Path
	// Endpoint is the peer's UDP address on a direct path.
	Endpoint string
	// DERPRegion is the code of the region that carries a DERP path.
	DERPRegion    string
	LastHandshake time.Time
	RxBytes       int64
	TxBytes       int64
}

// Paths lists the peers this node has a WireGuard session with (or is starting one with), by ID.
func (c *Conn) Paths() []PeerPath {
	sb := &ipnstate.StatusBuilder{WantPeers: true}
	c.engine.UpdateStatus(sb)
	set := c.peers.Load()
	var out []PeerPath
	for k, ps := range sb.Status().Peer {
		n, ok := set.byKey[k]
		if !ok || (ps.LastHandshake.IsZero() && ps.CurAddr == "" && ps.Relay == "") {
			continue
		}
		p := PeerPath{ID: n.ID, LastHandshake: ps.LastHandshake, RxBytes: ps.RxBytes, TxBytes: ps.TxBytes}
		switch {
		case ps.CurAddr != "":
			p.Path, p.Endpoint = PathDirect, ps.CurAddr
		case ps.Relay != "":
			p.Path, p.DERPRegion = PathDERP, ps.Relay
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b PeerPath) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	return out
}
