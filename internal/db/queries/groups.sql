-- name: InsertGroup :one
INSERT INTO groups (name, display_name, quota_allowance) VALUES ($1, $2, $3) RETURNING *;

-- name: GetGroup :one
SELECT * FROM groups WHERE id = $1;

-- name: GetGroupByName :one
SELECT * FROM groups WHERE organization_id = '00000000-0000-0000-0000-000000000000' AND lower(name) = lower(@name::text);

-- name: ListGroups :many
-- Every group with its number of stored members (Everyone's are not stored: its count is the users').
SELECT sqlc.embed(g), CASE WHEN g.id = '00000000-0000-0000-0000-00000000e0e0' THEN (SELECT count(*) FROM users)
    ELSE (SELECT count(*) FROM group_members m WHERE m.group_id = g.id) END::bigint AS member_count
FROM groups g ORDER BY g.name;

-- name: UpdateGroup :one
UPDATE groups SET name = $2, display_name = $3, quota_allowance = $4, updated_at = now() WHERE id = $1 RETURNING *;

-- name: DeleteGroup :execrows
DELETE FROM groups WHERE id = $1;

-- name: ListGroupMembers :many
SELECT sqlc.embed(u), m.source FROM group_members m JOIN users u ON u.id = m.user_id
WHERE m.group_id = $1 ORDER BY u.username;

-- name: AddGroupMember :exec
-- A manual membership; one the OIDC claim made becomes manual (it stays when the claim drops it).
INSERT INTO group_members (group_id, user_id, source) VALUES ($1, $2, 'manual')
ON CONFLICT (group_id, user_id) DO UPDATE SET source = 'manual';

-- name: RemoveGroupMember :execrows
DELETE FROM group_members WHERE group_id = $1 AND user_id = $2;

-- name: ListUserGroups :many
-- The groups a user belongs to, Everyone first.
SELECT g.* FROM groups g
WHERE g.id = '00000000-0000-0000-0000-00000000e0e0'
   OR g.id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = $1)
ORDER BY g.id <> '00000000-0000-0000-0000-00000000e0e0', g.name;

-- name: SyncOIDCGroupMembers :exec
-- Makes the user's OIDC memberships exactly the named groups (manual memberships stay as they are).
WITH gone AS (
    DELETE FROM group_members m WHERE m.user_id = @user_id AND m.source = 'oidc' AND m.group_id <> ALL(@group_ids::uuid[])
)
INSERT INTO group_members (group_id, user_id, source)
SELECT unnest(@group_ids::uuid[]), @user_id, 'oidc'
ON CONFLICT (group_id, user_id) DO NOTHING;

-- name: ListTemplateGrants :many
-- A template's access list, with the names of those it names.
SELECT g.user_id, g.group_id, g.role, coalesce(u.username, gr.name)::text AS name
FROM template_grants g LEFT JOIN users u ON u.id = g.user_id LEFT JOIN groups gr ON gr.id = g.group_id
WHERE g.template_id = $1 ORDER BY g.group_id IS NULL, 4;

-- name: DeleteTemplateGrant :exec
-- Removes a user's (user_id) or a group's (group_id) role on a template.
DELETE FROM template_grants g WHERE g.template_id = @template_id
  AND g.user_id IS NOT DISTINCT FROM sqlc.narg(user_id)::uuid AND g.group_id IS NOT DISTINCT FROM sqlc.narg(group_id)::uuid;

-- name: InsertTemplateGrant :exec
INSERT INTO template_grants (template_id, user_id, group_id, role) VALUES ($1, $2, $3, $4);

-- name: ListWorkspaceGrants :many
SELECT g.user_id, g.group_id, g.role, coalesce(u.username, gr.name)::text AS name
FROM workspace_grants g LEFT JOIN users u ON u.id = g.user_id LEFT JOIN groups gr ON gr.id = g.group_id
WHERE g.workspace_id = $1 ORDER BY g.group_id IS NULL, 4;

-- name: DeleteWorkspaceGrant :exec
DELETE FROM workspace_grants g WHERE g.workspace_id = @workspace_id
  AND g.user_id IS NOT DISTINCT FROM sqlc.narg(user_id)::uuid AND g.group_id IS NOT DISTINCT FROM sqlc.narg(group_id)::uuid;

-- name: InsertWorkspaceGrant :exec
INSERT INTO workspace_grants (workspace_id, user_id, group_id, role) VALUES ($1, $2, $3, $4);

-- name: CountAdministeredTemplates :one
-- How many templates a user may administer through their access lists.
SELECT count(*) FROM template_grants g JOIN templates t ON t.id = g.template_id AND t.deleted_at IS NULL
WHERE g.role = 'admin' AND (g.user_id = sqlc.narg(user_id)::uuid OR g.group_id = ANY(@groups::uuid[]));

-- name: ListUserGroupNames :many
-- The names of the groups a user belongs to (Everyone included), as templates see them.
SELECT g.name FROM groups g
WHERE g.id = '00000000-0000-0000-0000-00000000e0e0' OR g.id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = $1)
ORDER BY g.name;

-- name: QuotaOf :one
-- An owner's daily credit allowance (the sum over their groups, everyone included) and what their
-- workspaces other than except_workspace cost a day: each whose latest build starts it (pending,
-- running or done) costs the daily_cost of that build's resources, or of its version's import while
-- the build has none yet.
SELECT
    (SELECT coalesce(sum(g.quota_allowance), 0) FROM groups g
     WHERE g.id = '00000000-0000-0000-0000-00000000e0e0'
        OR g.id IN (SELECT m.group_id FROM group_members m WHERE m.user_id = @owner_id))::bigint AS allowance,
    (SELECT coalesce(sum(CASE WHEN r.n > 0 THEN r.cost
                ELSE (SELECT coalesce(sum((x->>'daily_cost')::int), 0) FROM template_versions v, jsonb_array_elements(v.resources) x
                      WHERE v.id = b.template_version_id)
            END), 0)
     FROM workspaces w
     JOIN LATERAL (SELECT wb.id, wb.template_version_id, wb.transition, wb.status FROM workspace_builds wb
                   WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true
     CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(rr.daily_cost), 0) AS cost FROM workspace_resources rr WHERE rr.build_id = b.id) r
     WHERE w.owner_id = @owner_id AND NOT w.deleted AND w.id <> @except_workspace
       AND b.transition = 'start' AND b.status IN ('pending', 'running', 'succeeded'))::bigint AS used;

-- name: StartQuotaCheck :one
-- What a workspace of this version costs a day (as its import planned it) and whether quotas are
-- on (once any group has an allowance); when both, it also takes the owner's quota lock, which
-- serializes the quota checks of their starts until the transaction ends. One round trip.
WITH c AS (
    SELECT (SELECT coalesce(sum((x->>'daily_cost')::int), 0) FROM template_versions v, jsonb_array_elements(v.resources) x
            WHERE v.id = @version_id)::bigint AS cost,
           EXISTS (SELECT 1 FROM groups WHERE quota_allowance > 0)::bool AS quotas_on
)
SELECT c.cost, c.quotas_on,
    (CASE WHEN c.cost > 0 AND c.quotas_on
          THEN (SELECT true FROM (SELECT pg_advisory_xact_lock(hashtextextended('quota:' || @owner_id::text, 0))) l)
          ELSE false END)::bool AS locked
FROM c;
