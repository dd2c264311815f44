-- name: UpsertTailnetPeer :execrows
-- A node's coordination with one agent, as the node last described itself. No row is written (0)
-- when another node has the key, or when the ID is another kind's or another user's.
INSERT INTO tailnet_peers (id, agent_id, kind, user_id, replica_id, node_key, node)
SELECT @id::uuid, @agent_id::uuid, @kind::text, sqlc.narg(user_id)::uuid, @replica_id::uuid, @node_key::text, @node::jsonb
WHERE NOT EXISTS (SELECT 1 FROM tailnet_peers o WHERE o.node_key = @node_key::text AND o.id <> @id::uuid)
ON CONFLICT (id, agent_id) DO UPDATE SET node_key = excluded.node_key, node = excluded.node, replica_id = excluded.replica_id, updated_at = now()
    WHERE tailnet_peers.kind = excluded.kind AND tailnet_peers.user_id IS NOT DISTINCT FROM excluded.user_id;

-- name: UpsertTailnetServerNode :exec
-- A replica's own node, once for each agent it reaches.
INSERT INTO tailnet_peers (id, agent_id, kind, replica_id, node_key, node)
SELECT @id::uuid, a, 'server', @replica_id::uuid, @node_key::text, @node::jsonb FROM unnest(@agent_ids::uuid[]) a
ON CONFLICT (id, agent_id) DO UPDATE SET node_key = excluded.node_key, node = excluded.node, updated_at = now();

-- name: DeleteTailnetPeer :exec
-- A coordination that ended: only its own row (a client that took an agent's ID was refused and
-- must not take the agent's row with it).
DELETE FROM tailnet_peers WHERE id = @id AND agent_id = @agent_id AND kind = @kind AND user_id IS NOT DISTINCT FROM sqlc.narg(user_id)::uuid;

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
