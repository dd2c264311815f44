package relay

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
	"github.com/hearthdev/hearth/internal/tunnel"
)

// The replica pings every agent whose tunnel it holds: an agent that answers keeps its tunnel for
// as long as it likes; one that stops answering (a frozen process, a network that went away
// without a close) loses it after the write timeout, and is recorded as disconnected.
func TestAnAgentThatStopsAnsweringPingsLosesItsTunnel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shorter := func() *yamux.Config {
		c := tunnel.Config()
		c.KeepAliveInterval, c.ConnectionWriteTimeout = 50*time.Millisecond, 300*time.Millisecond
		return c
	}
	saved := sessionConfig
	sessionConfig = shorter
	t.Cleanup(func() { sessionConfig = saved })

	d := dbtest.New(t)
	agentID := dbtest.Agent(t, d, "frozen")
	r := New(Config{DB: d, Address: "http://127.0.0.1:1", Hostname: "test", Logger: dbtest.Logger()})
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })

	replicaEnd, agentEnd := net.Pipe()
	gate := &pausable{Conn: agentEnd}
	agentCfg := shorter()
	agentCfg.EnableKeepAlive = false // only the replica's pings are under test
	agent, err := yamux.Server(gate, agentCfg)
	require.NoError(t, err)
	defer func() { gate.resume(); _ = agent.Close() }()
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx, agentID, replicaEnd, "test") }()

	connected := func() (replica bool) {
		require.NoError(t, d.Pool.QueryRow(ctx, `SELECT replica_id IS NOT NULL FROM workspace_agents WHERE id = $1`, agentID).Scan(&replica))
		return replica
	}
	require.Eventually(t, connected, 5*time.Second, 10*time.Millisecond)
	select {
	case err := <-served:
		t.Fatalf("the tunnel of an agent answering pings ended: %v", err)
	case <-time.After(20 * shorter().KeepAliveInterval):
	}
	require.True(t, connected())

	frozen := time.Now()
	gate.pause()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the tunnel of an agent that stopped answering is still held")
	}
	t.Logf("tunnel ended %s after the agent froze", time.Since(frozen).Round(time.Millisecond))
	require.False(t, connected(), "recorded as disconnected")
	require.False(t, r.Holds(agentID))
}

// pausable is a connection whose reads stop when paused, as a frozen process's would.
type pausable struct {
	net.Conn
	mu     sync.Mutex
	paused chan struct{}
}

func (p *pausable) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = make(chan struct{})
}

func (p *pausable) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		close(p.paused)
		p.paused = nil
	}
}

func (p *pausable) Read(b []byte) (int, error) {
	p.mu.Lock()
	paused := p.paused
	p.mu.Unlock()
	if paused != nil {
		<-paused
	}
	return p.Conn.Read(b)
}
