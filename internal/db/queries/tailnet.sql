-- name: UpsertTailnetPeer :exec
INSERT INTO tailnet_peers (id, agent_id, kind, user_id, replica_id, node_key, node) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE SET node_key = excluded.node_key, node = excluded.node, updated_at = now();

-- name: DeleteTailnetPeer :exec
DELETE FROM tailnet_peers WHERE id = $1;

-- name: ListTailnetPeers :many
-- The nodes of one agent's tailnet: the agent and the clients asking for it.
SELECT id, kind, user_id, node FROM tailnet_peers WHERE agent_id = $1;

-- name: TailnetKeyKnown :one
SELECT EXISTS (SELECT 1 FROM tailnet_peers WHERE node_key = $1);

-- name: DeleteReplicaTailnetPeers :many
-- A stopping replica's nodes; it notifies their agents.
DELETE FROM tailnet_peers WHERE replica_id = $1 RETURNING agent_id;

-- name: DeleteStaleTailnetPeers :many
-- Nodes of replicas that stopped or went silent.
DELETE FROM tailnet_peers p USING replicas r WHERE p.replica_id = r.id
    AND (r.stopped_at IS NOT NULL OR r.last_seen_at < now() - make_interval(secs => @fresh_seconds::float8))
RETURNING p.agent_id;
