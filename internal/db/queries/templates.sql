-- name: InsertTemplate :one
INSERT INTO templates (name, display_name, description, icon, active_version_id, default_ttl_seconds,
    max_ttl_seconds, allow_user_autostart, allow_user_autostop, autostart_days, created_by,
    activity_bump_seconds, autostop_requirement_days, dormancy_threshold_seconds, dormancy_delete_seconds, failure_ttl_seconds)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING *;

-- name: GetTemplate :one
SELECT * FROM templates WHERE id = $1 AND deleted_at IS NULL;

-- name: GetTemplateByName :one
SELECT * FROM templates WHERE lower(name) = lower(@name::text) AND deleted_at IS NULL;

-- name: ListTemplates :many
-- Templates by name, with how many workspaces use each: all of them, or (usable_by) those whose access
-- list names the user or one of usable_groups.
SELECT sqlc.embed(t), (SELECT count(*) FROM workspaces w WHERE w.template_id = t.id AND NOT w.deleted) AS workspace_count
FROM templates t WHERE t.deleted_at IS NULL
  AND (sqlc.narg(usable_by)::uuid IS NULL OR EXISTS (SELECT 1 FROM template_grants g WHERE g.template_id = t.id
       AND (g.user_id = sqlc.narg(usable_by) OR g.group_id = ANY(@usable_groups::uuid[]))))
ORDER BY t.name;

-- name: LockTemplate :one
SELECT * FROM templates WHERE id = $1 AND deleted_at IS NULL FOR UPDATE;

-- name: UpdateTemplate :one
UPDATE templates SET name = $2, display_name = $3, description = $4, icon = $5, default_ttl_seconds = $6,
    max_ttl_seconds = $7, allow_user_autostart = $8, allow_user_autostop = $9, autostart_days = $10,
    active_version_id = $11, activity_bump_seconds = $12, autostop_requirement_days = $13,
    dormancy_threshold_seconds = $14, dormancy_delete_seconds = $15, failure_ttl_seconds = $16, updated_at = now()
WHERE id = $1 AND deleted_at IS NULL
RETURNING *;

-- name: DeleteTemplate :exec
UPDATE templates SET deleted_at = now(), updated_at = now() WHERE id = $1;

-- name: CountTemplateWorkspaces :one
SELECT count(*) FROM workspaces WHERE template_id = $1 AND NOT deleted;

-- name: AttachTemplateVersion :exec
-- Makes a version, so far on its own, the template's.
UPDATE template_versions SET template_id = $2, updated_at = now() WHERE id = $1;

-- name: ListTemplateVersions :many
SELECT * FROM template_versions
WHERE template_id = $1 AND (@include_archived::boolean OR NOT archived)
ORDER BY created_at DESC, id DESC;

-- name: CountTemplateVersions :one
SELECT count(*) FROM template_versions WHERE template_id = $1;

-- name: SetTemplateVersionArchived :one
UPDATE template_versions SET archived = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: CountVersionWorkspaces :one
-- Workspaces whose latest build is of a version: an archived version cannot be picked again, but
-- those keep running it.
SELECT count(*) FROM workspace_overview WHERE template_version_id = $1 AND NOT deleted;

-- name: ShareLockTemplate :one
-- Held while a workspace is created from the template, so the template cannot be deleted meanwhile.
SELECT * FROM templates WHERE id = $1 AND deleted_at IS NULL FOR SHARE;
