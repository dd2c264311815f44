-- name: InsertAPIKey :one
INSERT INTO api_keys (id, user_id, kind, name, secret_hash, scopes, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING *;

-- name: GetAPIKeyWithUser :one
-- A key, its user and the groups the user is a stored member of.
SELECT sqlc.embed(api_keys), sqlc.embed(users),
    ARRAY(SELECT m.group_id FROM group_members m WHERE m.user_id = users.id)::uuid[] AS group_ids
FROM api_keys JOIN users ON users.id = api_keys.user_id
WHERE api_keys.id = $1;

-- name: ListAPIKeysByUser :many
SELECT * FROM api_keys WHERE user_id = $1 AND kind = @kind ORDER BY created_at;

-- name: DeleteAPIKey :execrows
DELETE FROM api_keys WHERE id = $1 AND user_id = $2;

-- name: TouchAPIKey :exec
UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: RevokeUserSessions :execrows
-- Revokes a user's sessions but one (the caller's own, or none with '').
DELETE FROM api_keys WHERE user_id = $1 AND kind = 'session' AND id <> @keep::text;
