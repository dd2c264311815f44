-- name: ListPrebuildPresets :many
-- Every preset of a template's active version that asks for prebuilds.
SELECT t.id AS template_id, t.name AS template_name, t.active_version_id AS version_id, (p->>'name')::text AS preset,
    coalesce((p->'prebuilds'->>'instances')::int, 0)::int AS instances,
    coalesce((p->'prebuilds'->>'expiration_ttl_seconds')::bigint, 0)::bigint AS ttl_seconds,
    coalesce(p->'prebuilds'->>'timezone', '')::text AS timezone,
    coalesce(p->'prebuilds'->'schedule', '[]')::jsonb AS schedule
FROM templates t
JOIN template_versions v ON v.id = t.active_version_id
CROSS JOIN LATERAL jsonb_array_elements(v.presets) p
WHERE t.deleted_at IS NULL AND p ? 'prebuilds'
ORDER BY t.name, p->>'name';

-- name: ListPrebuilds :many
-- The prebuilds (the system owner's workspaces), each with its latest build and whether all its
-- agents are ready.
SELECT w.id, w.name, w.template_id, w.preset, w.created_at, b.template_version_id, b.transition, b.status,
    b.completed_at, b.number,
    (EXISTS (SELECT 1 FROM workspace_agents a WHERE a.build_id = b.id)
     AND NOT EXISTS (SELECT 1 FROM workspace_agents a WHERE a.build_id = b.id AND a.lifecycle_state <> 'ready'))::bool AS ready
FROM workspaces w
JOIN LATERAL (SELECT * FROM workspace_builds wb WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true
WHERE w.owner_id = 'c42fdf75-3097-471c-8c33-fb52454d81c0' AND NOT w.deleted
ORDER BY w.created_at;

-- name: RecentPrebuildFailures :many
-- Per template and preset, how many prebuild creations failed in the last window, and when the last did.
SELECT w.template_id, w.preset, count(*)::int AS failures, max(b.completed_at)::timestamptz AS last_failure
FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id
WHERE w.owner_id = 'c42fdf75-3097-471c-8c33-fb52454d81c0' AND b.number = 1 AND b.status = 'failed'
  AND b.completed_at > now() - make_interval(secs => @within_seconds::float8)
GROUP BY w.template_id, w.preset;

-- name: SetWorkspacePreset :exec
UPDATE workspaces SET preset = $2 WHERE id = $1;

-- name: ClaimablePrebuild :one
-- A prebuild ready to be claimed: of this template's active version and preset, its latest build a
-- start that succeeded, every agent ready. Locked, skipping those another claim holds, so two claims
-- never take the same one.
SELECT w.* FROM workspaces w
JOIN templates t ON t.id = w.template_id
JOIN LATERAL (SELECT * FROM workspace_builds wb WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true
WHERE w.owner_id = 'c42fdf75-3097-471c-8c33-fb52454d81c0' AND NOT w.deleted
  AND w.template_id = @template_id AND w.preset = @preset AND b.template_version_id = t.active_version_id
  AND b.transition = 'start' AND b.status = 'succeeded'
  AND EXISTS (SELECT 1 FROM workspace_agents a WHERE a.build_id = b.id)
  AND NOT EXISTS (SELECT 1 FROM workspace_agents a WHERE a.build_id = b.id AND a.lifecycle_state <> 'ready')
ORDER BY w.created_at
LIMIT 1
FOR UPDATE OF w SKIP LOCKED;

-- name: ClaimPrebuild :one
-- Moves a prebuild to its new owner under its new name.
UPDATE workspaces SET owner_id = @owner_id, name = @name, claimed_at = now(), updated_at = now(), last_used_at = now()
WHERE id = @id RETURNING *;

-- name: ReissueAgentToken :exec
-- Gives an agent a new token; the old one works until the agent has taken the new.
UPDATE workspace_agents SET previous_token_hash = token_hash, token_hash = @token_hash WHERE id = @id;

-- name: ForgetPreviousAgentToken :exec
UPDATE workspace_agents SET previous_token_hash = NULL WHERE id = $1 AND previous_token_hash IS NOT NULL;

-- name: RenewUndeliveredAgentToken :execrows
-- Replaces the new token of an agent that never took it (it still uses its previous one), so the
-- new one can be handed over again; an agent that has taken its token (no previous) is left alone.
UPDATE workspace_agents SET token_hash = @token_hash WHERE id = @id AND previous_token_hash IS NOT NULL;

-- name: SetWorkspaceAgentEnv :exec
-- A claimed prebuild's agent's env, as evaluated for its new owner.
UPDATE workspace_agents SET env = @env WHERE id = @id;

-- name: CountPrebuildClaims :many
-- Per template and preset, how many prebuilds were ever claimed.
SELECT template_id, preset, count(*)::int AS claims
FROM workspaces WHERE claimed_at IS NOT NULL
GROUP BY template_id, preset;
