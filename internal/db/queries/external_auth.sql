-- name: UpsertExternalAuthLink :exec
INSERT INTO external_auth_links (user_id, provider_id, access_token_sealed, refresh_token_sealed, expires_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (user_id, provider_id) DO UPDATE SET access_token_sealed = EXCLUDED.access_token_sealed,
    refresh_token_sealed = EXCLUDED.refresh_token_sealed, expires_at = EXCLUDED.expires_at, updated_at = now();

-- name: GetExternalAuthLink :one
SELECT * FROM external_auth_links WHERE user_id = $1 AND provider_id = $2;

-- name: LockExternalAuthLink :one
-- The link, locked until the transaction ends: one refresh at a time (a provider that rotates
-- refresh tokens refuses the second).
SELECT * FROM external_auth_links WHERE user_id = $1 AND provider_id = $2 FOR UPDATE;

-- name: ListExternalAuthLinks :many
SELECT * FROM external_auth_links WHERE user_id = $1 ORDER BY provider_id;

-- name: DeleteExternalAuthLink :execrows
DELETE FROM external_auth_links WHERE user_id = $1 AND provider_id = $2;

-- name: GetBuildExternalAuth :one
-- The external auth providers a build's template version asks for.
SELECT v.external_auth FROM workspace_builds b JOIN template_versions v ON v.id = b.template_version_id WHERE b.id = $1;
