-- name: UpsertReplica :exec
INSERT INTO replicas (id, hostname, relay_address, version) VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, relay_address = excluded.relay_address,
    version = excluded.version, last_seen_at = now(), stopped_at = NULL;

-- name: TouchReplica :exec
UPDATE replicas SET last_seen_at = now() WHERE id = $1;

-- name: StopReplica :exec
UPDATE replicas SET stopped_at = now() WHERE id = $1;

-- name: ListReplicas :many
SELECT * FROM replicas WHERE proxy_id IS NULL AND stopped_at IS NULL AND last_seen_at > now() - make_interval(secs => @fresh_seconds::float8)
ORDER BY started_at;

-- name: DeleteOldReplicas :exec
-- Replicas gone for a day: their agents' replica_id becomes NULL.
DELETE FROM replicas WHERE last_seen_at < now() - interval '1 day';

-- name: ConnectAgent :exec
UPDATE workspace_agents SET replica_id = $2, connection_id = $3, version = $4,
    first_connected_at = COALESCE(first_connected_at, now()), last_connected_at = now(), disconnected_at = NULL
WHERE id = $1;

-- name: DisconnectAgent :exec
-- Only the connection that is still the agent's: a reconnection elsewhere has replaced it.
UPDATE workspace_agents SET replica_id = NULL, disconnected_at = now() WHERE id = $1 AND connection_id = $2;

-- name: GetAgentRelay :one
-- Where an agent's tunnel is: the replica holding it, if that replica is alive.
SELECT r.id, r.relay_address
FROM workspace_agents a JOIN replicas r ON r.id = a.replica_id
WHERE a.id = $1 AND r.stopped_at IS NULL AND r.last_seen_at > now() - make_interval(secs => @fresh_seconds::float8);

-- name: GetWorkspaceAgent :one
-- An agent with its workspace, if its build is the workspace's latest.
SELECT sqlc.embed(a), w.id AS workspace_id, w.name AS workspace_name, w.owner_id, u.username AS owner_name,
    r.last_seen_at AS replica_last_seen_at
FROM workspace_agents a
LEFT JOIN replicas r ON r.id = a.replica_id AND r.stopped_at IS NULL
JOIN workspace_builds b ON b.id = a.build_id
JOIN workspaces w ON w.id = b.workspace_id
JOIN users u ON u.id = w.owner_id
WHERE a.id = $1 AND NOT w.deleted
  AND b.number = (SELECT max(number) FROM workspace_builds WHERE workspace_id = w.id);

-- name: ListAgentsByOwnerAndWorkspace :many
-- The agents of a workspace's latest build, found by owner's username and workspace name.
SELECT sqlc.embed(a), w.id AS workspace_id, w.name AS workspace_name, w.owner_id, u.username AS owner_name,
    r.last_seen_at AS replica_last_seen_at, t.name AS template_name
FROM workspaces w
JOIN users u ON u.id = w.owner_id
JOIN templates t ON t.id = w.template_id
JOIN workspace_builds b ON b.workspace_id = w.id
JOIN workspace_agents a ON a.build_id = b.id
LEFT JOIN replicas r ON r.id = a.replica_id AND r.stopped_at IS NULL
WHERE lower(u.username) = lower(@owner_name) AND lower(w.name) = lower(@workspace_name) AND NOT w.deleted
  AND b.number = (SELECT max(number) FROM workspace_builds WHERE workspace_id = w.id)
ORDER BY a.name;

-- name: SetAgentLifecycle :exec
UPDATE workspace_agents SET lifecycle_state = @state,
    started_at = CASE WHEN @state = 'starting' THEN now() ELSE started_at END,
    ready_at = CASE WHEN @state IN ('ready', 'start_error', 'start_timeout') THEN now() ELSE ready_at END
WHERE id = @id;

-- name: SetAgentAppHealth :exec
UPDATE workspace_agents SET app_health = $2 WHERE id = $1;

-- name: SetAgentStats :exec
UPDATE workspace_agents SET stats = $2 WHERE id = $1;

-- name: InsertAgentLogs :exec
INSERT INTO workspace_agent_logs (agent_id, created_at, source, level, output)
SELECT @agent_id, unnest(@created_at::timestamptz[]), unnest(@source::text[]), unnest(@level::text[]), unnest(@output::text[]);

-- name: ListAgentLogs :many
SELECT * FROM workspace_agent_logs WHERE agent_id = $1 AND id > $2 ORDER BY id LIMIT $3;

-- name: UpsertAgentMetadata :exec
INSERT INTO workspace_agent_metadata (agent_id, key, value, error, collected_at)
SELECT @agent_id, unnest(@key::text[]), unnest(@value::text[]), unnest(@error::text[]), unnest(@collected_at::timestamptz[])
ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value, error = excluded.error, collected_at = excluded.collected_at;

-- name: ListAgentMetadata :many
SELECT * FROM workspace_agent_metadata WHERE agent_id = $1 ORDER BY key;

-- name: TouchWorkspaces :exec
-- Marks workspaces used (SSH, terminal, app sessions), batched by the caller.
UPDATE workspaces w SET last_used_at = now(),
    -- Activity keeps a running workspace up for the template's bump step (else its TTL) from now,
    -- never past its maximum.
    deadline = CASE WHEN w.deadline IS NULL THEN NULL ELSE LEAST(
        GREATEST(w.deadline, now() + make_interval(secs => COALESCE(NULLIF(t.activity_bump_seconds, 0), w.ttl_seconds, t.default_ttl_seconds))),
        COALESCE(w.max_deadline, 'infinity')) END
FROM templates t WHERE t.id = w.template_id AND w.id = ANY(@ids::uuid[]);

-- name: UpsertAgentMetadataBatch :exec
-- Many agents' latest values in one statement (the metadata buffer's flush); values of agents gone
-- meanwhile are dropped, and an older value never overwrites a newer one.
INSERT INTO workspace_agent_metadata (agent_id, key, value, error, collected_at)
SELECT u.agent_id, u.key, u.value, u.error, u.collected_at
FROM (SELECT unnest(@agent_id::uuid[]) AS agent_id, unnest(@key::text[]) AS key, unnest(@value::text[]) AS value,
             unnest(@error::text[]) AS error, unnest(@collected_at::timestamptz[]) AS collected_at) u
WHERE EXISTS (SELECT 1 FROM workspace_agents a WHERE a.id = u.agent_id)
ON CONFLICT (agent_id, key) DO UPDATE SET value = excluded.value, error = excluded.error, collected_at = excluded.collected_at
WHERE workspace_agent_metadata.collected_at <= excluded.collected_at;

-- name: UseAppTicket :execrows
-- Records the use of a single-use app ticket: no row affected means it was used before. The uses of
-- tickets expired for a minute are dropped on the way.
WITH gone AS (DELETE FROM app_ticket_uses WHERE expires_at < now() - interval '1 minute')
INSERT INTO app_ticket_uses (id, expires_at) VALUES (@id, @expires_at) ON CONFLICT (id) DO NOTHING;
