-- name: InsertWorkspace :one
INSERT INTO workspaces (owner_id, template_id, name) VALUES ($1, $2, $3) RETURNING *;

-- name: GetWorkspace :one
SELECT * FROM workspace_overview WHERE id = $1;

-- name: GetWorkspaceByOwnerAndName :one
SELECT * FROM workspace_overview WHERE owner_name = lower(@owner::text) AND lower(name) = lower(@name::text) AND NOT deleted;

-- name: ListWorkspaces :many
-- A page of the workspaces that are not deleted, filtered (visible_to: those the user owns or that are
-- shared with them or one of visible_groups), by owner and name, with the number of all
-- matches. The page is chosen on the base tables (the latest build is looked up only to filter by
-- status), and only its rows are read through workspace_overview; the number is counted apart, on
-- workspaces alone (the same filters, as lookups), once per call. Counting in the page's own scan (a
-- window count) made every call join and sort every workspace in the deployment: six times the cost
-- at 2,000 workspaces.
WITH page AS (
    SELECT w.id, u.username, w.name
    FROM workspaces w
    JOIN users u ON u.id = w.owner_id
    WHERE NOT w.deleted
      AND (sqlc.narg(owner_id)::uuid IS NULL OR w.owner_id = sqlc.narg(owner_id))
      AND (sqlc.narg(visible_to)::uuid IS NULL OR w.owner_id = sqlc.narg(visible_to)
           OR EXISTS (SELECT 1 FROM workspace_grants g WHERE g.workspace_id = w.id
                      AND (g.user_id = sqlc.narg(visible_to) OR g.group_id = ANY(@visible_groups::uuid[]))))
      AND (@owner_name::text = '' OR u.username = lower(@owner_name))
      AND (@template_name::text = '' OR w.template_id IN (SELECT t.id FROM templates t WHERE lower(t.name) = lower(@template_name)))
      AND (@status::text = '' OR (SELECT workspace_status(b.transition, b.status) FROM workspace_builds b
                                  WHERE b.workspace_id = w.id ORDER BY b.number DESC LIMIT 1) = @status)
      AND (@search::text = '' OR w.name ILIKE '%' || @search || '%')
    ORDER BY u.username, w.name
    LIMIT @lim OFFSET @off
)
SELECT sqlc.embed(workspace_overview), (
    SELECT count(*) FROM workspaces w
    WHERE NOT w.deleted
      AND (sqlc.narg(owner_id)::uuid IS NULL OR w.owner_id = sqlc.narg(owner_id))
      AND (sqlc.narg(visible_to)::uuid IS NULL OR w.owner_id = sqlc.narg(visible_to)
           OR EXISTS (SELECT 1 FROM workspace_grants g WHERE g.workspace_id = w.id
                      AND (g.user_id = sqlc.narg(visible_to) OR g.group_id = ANY(@visible_groups::uuid[]))))
      AND (@owner_name::text = '' OR w.owner_id = (SELECT u.id FROM users u WHERE u.username = lower(@owner_name)))
      AND (@template_name::text = '' OR w.template_id IN (SELECT t.id FROM templates t WHERE lower(t.name) = lower(@template_name)))
      AND (@status::text = '' OR (SELECT workspace_status(b.transition, b.status) FROM workspace_builds b
                                  WHERE b.workspace_id = w.id ORDER BY b.number DESC LIMIT 1) = @status)
      AND (@search::text = '' OR w.name ILIKE '%' || @search || '%')
)::bigint AS total
FROM page JOIN workspace_overview ON workspace_overview.id = page.id
ORDER BY page.username, page.name;

-- name: LockWorkspace :one
SELECT * FROM workspaces WHERE id = $1 FOR UPDATE;

-- name: RenameWorkspace :exec
UPDATE workspaces SET name = $2, updated_at = now() WHERE id = $1;

-- name: MarkWorkspaceDeleted :exec
UPDATE workspaces SET deleted = true, updated_at = now() WHERE id = $1;

-- name: CountUserWorkspaces :one
SELECT count(*) FROM workspaces WHERE owner_id = $1 AND NOT deleted;

-- name: InsertWorkspaceBuild :one
INSERT INTO workspace_builds (workspace_id, number, template_version_id, transition, initiator_id, parameters, orphan, status, state, completed_at)
VALUES ($1, (SELECT coalesce(max(number), 0) + 1 FROM workspace_builds WHERE workspace_id = $1), $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING *;

-- name: SetWorkspaceBuildJob :exec
UPDATE workspace_builds SET job_id = $2 WHERE id = $1;

-- name: GetWorkspaceBuild :one
SELECT * FROM workspace_builds WHERE id = $1;

-- name: GetWorkspaceBuildByJob :one
SELECT * FROM workspace_builds WHERE job_id = $1;

-- name: ListWorkspaceBuilds :many
SELECT * FROM workspace_builds WHERE workspace_id = $1 ORDER BY number DESC LIMIT @lim OFFSET @off;

-- name: PreviousBuildState :one
-- The state and parameters the next build starts from: the latest build that ran Terraform to the
-- end, or failed after changing something (its state is kept too).
SELECT * FROM workspace_builds WHERE workspace_id = $1 AND state IS NOT NULL AND number < @before::integer ORDER BY number DESC LIMIT 1;

-- name: LatestBuildWithParameters :one
-- The parameter values a new build starts from: the latest build's (all were validated).
SELECT * FROM workspace_builds WHERE workspace_id = $1 AND number < @before::integer
ORDER BY number DESC LIMIT 1;

-- name: SetWorkspaceBuildStatus :exec
UPDATE workspace_builds SET status = @status::text, error = @error::text,
    completed_at = CASE WHEN @status::text IN ('succeeded', 'failed', 'canceled') THEN now() END
WHERE id = @id;

-- name: SetWorkspaceBuildState :exec
UPDATE workspace_builds SET state = $2 WHERE id = $1;

-- name: StartWorkspaceBuild :one
-- Leases a build job to a worker and marks the build running, in one statement.
WITH lease AS (
    INSERT INTO provisioner_leases (job_id, attempt, worker_id, expires_at)
    VALUES (@job_id, @attempt, @worker_id, @expires_at)
    ON CONFLICT (job_id) DO UPDATE SET attempt = EXCLUDED.attempt, worker_id = EXCLUDED.worker_id,
        started_at = now(), heartbeat_at = now(), expires_at = EXCLUDED.expires_at
)
UPDATE workspace_builds SET status = CASE WHEN status = 'canceling' THEN status ELSE 'running' END, started_at = now()
WHERE job_id = @job_id::bigint
RETURNING *;

-- name: HoldBuildForLateResult :exec
-- Keeps a build whose worker went silent open to its worker's late result for @seconds: no new build
-- of its workspace starts meanwhile.
UPDATE workspace_builds SET result_grace_until = now() + make_interval(secs => @seconds::float8) WHERE job_id = @job_id::bigint;

-- name: IsLatestBuildOfJob :one
-- Whether the build a job ran is still its workspace's latest (nothing was built after it).
SELECT NOT EXISTS (SELECT 1 FROM workspace_builds later WHERE later.workspace_id = b.workspace_id AND later.number > b.number)
FROM workspace_builds b WHERE b.job_id = $1;

-- name: FinishWorkspaceBuild :one
-- Stores a build's outcome and ends its lease, in one statement.
WITH lease AS (DELETE FROM provisioner_leases WHERE job_id = @job_id::bigint AND attempt = @attempt)
UPDATE workspace_builds SET status = 'succeeded', error = '', state = @state, completed_at = now(), result_grace_until = NULL
WHERE job_id = @job_id::bigint
RETURNING *;

-- name: InsertWorkspaceResource :one
INSERT INTO workspace_resources (build_id, type, name, hide, icon, daily_cost, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *;

-- name: InsertWorkspaceAgent :one
INSERT INTO workspace_agents (resource_id, build_id, name, os, arch, directory, token_hash, env, scripts, metadata,
    apps, motd_file, troubleshooting_url, connection_timeout_seconds, display_apps, display_order, resources_monitoring)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING *;

-- name: SetAgentResourcesUsage :exec
UPDATE workspace_agents SET resources_usage = $2, resources_usage_at = now() WHERE id = $1;

-- name: ListWorkspaceResources :many
SELECT * FROM workspace_resources WHERE build_id = $1 ORDER BY created_at, type, name;

-- name: ListWorkspaceAgents :many
-- A build's agents, with when the replica holding each one's tunnel was last seen (NULL: none).
SELECT sqlc.embed(a), r.last_seen_at AS replica_last_seen_at
FROM workspace_agents a LEFT JOIN replicas r ON r.id = a.replica_id AND r.stopped_at IS NULL
WHERE a.build_id = $1 ORDER BY a.display_order, a.name;

-- name: GetWorkspaceAgentByToken :one
-- The agent a token belongs to, if its build is its workspace's latest, or the one before a stop or
-- delete that is under way (whose agent reports its shutdown while the build tears it down). A
-- claimed prebuild's agent still holding its old token is found by it (previous_token).
SELECT sqlc.embed(a), w.id AS workspace_id, w.name AS workspace_name, w.owner_id, u.username AS owner_name,
    (a.previous_token_hash IS NOT NULL AND a.previous_token_hash = $1)::bool AS previous_token
FROM workspace_agents a
JOIN workspace_builds b ON b.id = a.build_id
JOIN workspaces w ON w.id = b.workspace_id
JOIN users u ON u.id = w.owner_id
JOIN LATERAL (SELECT number, transition, status FROM workspace_builds
              WHERE workspace_id = w.id ORDER BY number DESC LIMIT 1) latest ON true
WHERE (a.token_hash = $1 OR a.previous_token_hash = $1) AND NOT w.deleted
  AND (b.number = latest.number
       OR (b.number = latest.number - 1 AND latest.transition IN ('stop', 'delete')
           AND latest.status IN ('pending', 'running', 'canceling')));

-- name: GetBuildJobInput :one
-- Everything a worker needs to run a build, besides the previous state and variable values.
SELECT b.id, b.number, b.transition, b.parameters, b.template_version_id, w.id AS workspace_id, w.name AS workspace_name,
    u.id AS owner_id, u.username AS owner_name, u.name AS owner_full_name, u.email AS owner_email, u.roles AS owner_roles,
    (u.oidc_issuer IS NOT NULL)::bool AS owner_oidc,
    ARRAY(SELECT g.name FROM groups g WHERE g.id = '00000000-0000-0000-0000-00000000e0e0'
          OR g.id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = u.id) ORDER BY g.name)::text[] AS owner_groups,
    t.id AS template_id, t.name AS template_name, v.name AS version_name, v.variable_values, v.external_auth, f.data, f.content_type
FROM workspace_builds b
JOIN workspaces w ON w.id = b.workspace_id
JOIN users u ON u.id = w.owner_id
JOIN templates t ON t.id = w.template_id
JOIN template_versions v ON v.id = b.template_version_id
JOIN files f ON f.hash = v.file_hash
WHERE b.id = $1;

-- name: PurgeDeletedWorkspaces :exec
-- Removes a user's deleted workspaces (and their builds), before the user is deleted.
DELETE FROM workspaces WHERE owner_id = $1 AND deleted;

-- name: SetWorkspaceDeadline :exec
UPDATE workspaces SET deadline = $2, max_deadline = $3 WHERE id = $1;

-- name: SetWorkspaceTTL :exec
UPDATE workspaces SET ttl_seconds = $2, updated_at = now() WHERE id = $1;

-- name: SetWorkspaceAutostart :exec
UPDATE workspaces SET autostart_schedule = $2, next_autostart_at = $3, updated_at = now() WHERE id = $1;

-- name: SetWorkspaceNextAutostart :exec
UPDATE workspaces SET next_autostart_at = $2 WHERE id = $1;

-- name: ListOverdueWorkspaces :many
-- Running workspaces more than a minute past their deadline (their autostop job went missing).
SELECT w.id FROM workspaces w
WHERE NOT w.deleted AND w.deadline < now() - interval '1 minute'
  AND EXISTS (SELECT 1 FROM workspace_builds b WHERE b.workspace_id = w.id AND b.transition = 'start' AND b.status = 'succeeded'
              AND b.number = (SELECT max(number) FROM workspace_builds WHERE workspace_id = w.id))
ORDER BY w.deadline LIMIT 500;

-- name: ListMissedAutostarts :many
-- Autostarts whose occurrence passed more than a minute ago (their job went missing).
SELECT id, autostart_schedule FROM workspaces
WHERE NOT deleted AND autostart_schedule <> '' AND next_autostart_at < now() - interval '1 minute'
ORDER BY next_autostart_at LIMIT 500;

-- name: ListInactiveWorkspaces :many
-- Workspaces unused for longer than their template's dormancy threshold that are not dormant yet.
SELECT w.id FROM workspaces w JOIN templates t ON t.id = w.template_id
WHERE NOT w.deleted AND w.dormant_at IS NULL AND t.dormancy_threshold_seconds > 0
  AND w.last_used_at < now() - make_interval(secs => t.dormancy_threshold_seconds)
ORDER BY w.last_used_at LIMIT 500;

-- name: SetWorkspaceDormant :exec
-- Marks a workspace dormant (a time) or active again (NULL); waking it counts as a use.
UPDATE workspaces SET dormant_at = sqlc.narg(dormant_at)::timestamptz, updated_at = now(),
    last_used_at = CASE WHEN sqlc.narg(dormant_at)::timestamptz IS NULL THEN now() ELSE last_used_at END
WHERE id = $1;

-- name: ListDormantDue :many
-- Dormant workspaces more than a minute past their template's time to deletion (their job went missing).
SELECT w.id FROM workspaces w JOIN templates t ON t.id = w.template_id
WHERE NOT w.deleted AND w.dormant_at IS NOT NULL AND t.dormancy_delete_seconds > 0
  AND w.dormant_at < now() - make_interval(secs => t.dormancy_delete_seconds) - interval '1 minute'
ORDER BY w.dormant_at LIMIT 500;

-- name: ListFailedDue :many
-- Workspaces whose latest build is a start that failed longer ago than the template's failure TTL,
-- plus a minute (their job went missing).
SELECT w.id, b.id AS build_id FROM workspaces w
JOIN templates t ON t.id = w.template_id
JOIN LATERAL (SELECT * FROM workspace_builds wb WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true
WHERE NOT w.deleted AND t.failure_ttl_seconds > 0 AND b.transition = 'start' AND b.status = 'failed'
  AND b.completed_at < now() - make_interval(secs => t.failure_ttl_seconds) - interval '1 minute'
ORDER BY b.completed_at LIMIT 500;
