-- name: InsertWorkspaceProxy :one
INSERT INTO workspace_proxies (name, token_id, token_hash) VALUES ($1, $2, $3) RETURNING *;

-- name: ListWorkspaceProxies :many
-- Each proxy with its instances that are alive.
SELECT sqlc.embed(p), count(r.id)::int AS instances
FROM workspace_proxies p
LEFT JOIN replicas r ON r.proxy_id = p.id AND r.stopped_at IS NULL
    AND r.last_seen_at > now() - make_interval(secs => @fresh_seconds::float8)
GROUP BY p.id ORDER BY p.name;

-- name: GetWorkspaceProxyByTokenID :one
SELECT * FROM workspace_proxies WHERE token_id = $1;

-- name: DeleteWorkspaceProxy :execrows
DELETE FROM workspace_proxies WHERE lower(name) = lower($1);

-- name: RegisterProxyInstance :exec
-- A proxy instance's heartbeat: its replica row, and the proxy's address, version and DERP service.
WITH seen AS (
    UPDATE workspace_proxies SET url = @url, version = @version, last_seen_at = now(),
        derp_enabled = @derp_enabled, stun_port = @stun_port
    WHERE id = @proxy_id
)
INSERT INTO replicas (id, hostname, relay_address, version, proxy_id) VALUES (@instance_id, @hostname, @url, @version, @proxy_id)
ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, relay_address = excluded.relay_address,
    version = excluded.version, last_seen_at = now(), stopped_at = NULL
WHERE replicas.proxy_id = excluded.proxy_id;

-- name: StopProxyInstance :exec
UPDATE replicas SET stopped_at = now() WHERE id = @instance_id AND proxy_id = @proxy_id;

-- name: GetProxyInstance :one
-- A proxy instance that is alive.
SELECT * FROM replicas WHERE id = @instance_id AND proxy_id = @proxy_id AND stopped_at IS NULL
    AND last_seen_at > now() - make_interval(secs => @fresh_seconds::float8);

-- name: GetAgentProxyURL :one
-- The address of the live workspace proxy holding an agent's tunnel, if a proxy holds it.
SELECT r.relay_address
FROM workspace_agents a JOIN replicas r ON r.id = a.replica_id
WHERE a.id = $1 AND r.proxy_id IS NOT NULL AND r.stopped_at IS NULL
    AND r.last_seen_at > now() - make_interval(secs => @fresh_seconds::float8);

-- name: ListProxyDERPRegions :many
-- The proxies that serve DERP and have an instance alive: the DERP regions they make.
SELECT p.name, p.derp_region_id, p.url, p.stun_port
FROM workspace_proxies p
WHERE p.derp_enabled AND p.url <> '' AND EXISTS (
    SELECT 1 FROM replicas r WHERE r.proxy_id = p.id AND r.stopped_at IS NULL
        AND r.last_seen_at > now() - make_interval(secs => @fresh_seconds::float8))
ORDER BY p.derp_region_id;

-- name: ListProxyInstanceURLs :many
-- Where a proxy's other live instances are reached (their DERP servers mesh).
SELECT DISTINCT relay_address FROM replicas
WHERE proxy_id = @proxy_id AND id <> @instance_id AND stopped_at IS NULL
    AND last_seen_at > now() - make_interval(secs => @fresh_seconds::float8)
ORDER BY relay_address;
