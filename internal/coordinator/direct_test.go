package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hearthdev/hearth/internal/dbtest"
)

// The replica's node coordinates with an agent for as long as someone uses it: an agent with a
// connection open, or used within directIdle, is kept; one left idle longer is forgotten (its
// row in tailnet_peers deleted, its session gone) and reached again from scratch when asked.
func TestReplicaNodeForgetsIdleAgents(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := dbtest.New(t)
	replica := uuid.New()
	_, err := d.Pool.Exec(ctx, `INSERT INTO replicas (id, hostname, relay_address) VALUES ($1, 'test', 'http://127.0.0.1:1')`, replica)
	require.NoError(t, err)
	c := started(ctx, t, d, Config{ReplicaID: replica, EndpointNetworks: []string{"127.0.0.0/8"}})
	idle, busy := dbtest.Agent(t, d, "idle"), dbtest.Agent(t, d, "busy")
	direct := c.Direct()

	rows := func(agentID uuid.UUID) (n int) {
		require.NoError(t, d.Pool.QueryRow(ctx,
			`SELECT count(*) FROM tailnet_peers WHERE agent_id = $1 AND kind = 'server' AND id = $2`, agentID, direct.id).Scan(&n))
		return n
	}
	following := func(agentID uuid.UUID) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.byAgent[agentID]) > 0
	}
	conn, idleReach, err := direct.reach(ctx, idle)
	require.NoError(t, err)
	direct.release(idleReach, false)
	_, busyReach, err := direct.reach(ctx, busy) // its connection stays open
	require.NoError(t, err)
	require.Equal(t, 1, rows(idle))
	require.Equal(t, 1, rows(busy))

	direct.forgetIdle(conn)
	require.Equal(t, 1, rows(idle), "used moments ago: kept")

	direct.mu.Lock()
	idleReach.used = time.Now().Add(-directIdle - time.Second)
	busyReach.used = time.Now().Add(-directIdle - time.Second)
	direct.mu.Unlock()
	direct.forgetIdle(conn)
	require.Zero(t, rows(idle), "idle past directIdle: its row is deleted")
	require.False(t, following(idle), "and its session ended")
	require.Equal(t, 1, rows(busy), "a connection still open keeps the agent however long ago it began")
	require.True(t, following(busy))

	_, again, err := direct.reach(ctx, idle)
	require.NoError(t, err)
	require.NotSame(t, idleReach, again, "asked again, the agent is reached afresh")
	require.Equal(t, 1, rows(idle))
	direct.release(again, false)
	direct.release(busyReach, false)
}
