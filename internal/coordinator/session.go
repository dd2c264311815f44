package coordinator

import (
	"context"
	"sync"

	"github.com/hearthdev/hearth/internal/tailnet"
)

// session is one node this replica coordinates for an agent: a websocket's (an agent or a client)
// or the replica's own node's. What the coordinator has for it waits here, the latest peer set and
// DERP map replacing older ones, and a goroutine delivers it only while there is something to
// deliver: an idle node costs no goroutine of its own (a replica holds thousands of them).
type session struct {
	Peer
	kind string // "agent", "client" or "server"
	ctx  context.Context
	// deliver hands the node an update, one at a time: peers is the whole set the node may reach
	// (changed says whether it is news or comes with a new map); m is a new DERP map, or nil.
	deliver func(ctx context.Context, peers []tailnet.Node, changed bool, m *tailnet.DERPMap) error
	// fail, when set, is told of a failed delivery; nothing more is delivered after one.
	fail func(error)

	mu      sync.Mutex
	peers   []tailnet.Node
	changed bool
	m       *tailnet.DERPMap
	busy    bool // a delivery goroutine runs, or the session holds its updates back (hold)
}

// setPeers gives the node a new peer set.
func (s *session) setPeers(peers []tailnet.Node) {
	s.mu.Lock()
	s.peers, s.changed = peers, true
	s.deliverLocked()
	s.mu.Unlock()
}

// setMap gives the node a new DERP map.
func (s *session) setMap(m tailnet.DERPMap) {
	s.mu.Lock()
	s.m = &m
	s.deliverLocked()
	s.mu.Unlock()
}

// hold keeps updates back until release (while the first update is written by hand).
func (s *session) hold() {
	s.mu.Lock()
	s.busy = true
	s.mu.Unlock()
}

// release delivers what came while the session held its updates back.
func (s *session) release() {
	s.mu.Lock()
	s.busy = false
	s.deliverLocked()
	s.mu.Unlock()
}

func (s *session) deliverLocked() {
	if s.busy || (!s.changed && s.m == nil) {
		return
	}
	s.busy = true
	go s.run()
}

// run delivers until nothing is left, the session's context ends or a delivery fails.
func (s *session) run() {
	for {
		s.mu.Lock()
		if s.ctx.Err() != nil || (!s.changed && s.m == nil) {
			s.busy = false
			s.mu.Unlock()
			return
		}
		peers, changed, m := s.peers, s.changed, s.m
		s.changed, s.m = false, nil
		s.mu.Unlock()
		if err := s.deliver(s.ctx, peers, changed, m); err != nil {
			if s.fail != nil {
				s.fail(err)
			}
			// busy stays set: a node that cannot take its updates gets no more.
			return
		}
	}
}
