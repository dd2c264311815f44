-- name: GetGitSSHKey :one
SELECT * FROM user_git_ssh_keys WHERE user_id = $1;

-- name: InsertGitSSHKeyIfMissing :one
-- Stores a user's first key pair; when another request stored one first, returns that one.
WITH ins AS (
    INSERT INTO user_git_ssh_keys (user_id, public_key, private_key_sealed) VALUES ($1, $2, $3)
    ON CONFLICT (user_id) DO NOTHING RETURNING *
)
SELECT * FROM ins UNION ALL SELECT * FROM user_git_ssh_keys WHERE user_id = $1 AND NOT EXISTS (SELECT 1 FROM ins);

-- name: ReplaceGitSSHKey :one
INSERT INTO user_git_ssh_keys (user_id, public_key, private_key_sealed) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET public_key = EXCLUDED.public_key, private_key_sealed = EXCLUDED.private_key_sealed, updated_at = now()
RETURNING *;

-- name: DeleteAPIKeyByName :exec
DELETE FROM api_keys WHERE user_id = $1 AND kind = 'token' AND name = $2;

-- name: UpsertOIDCToken :exec
INSERT INTO user_oidc_tokens (user_id, access_token_sealed, expires_at) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET access_token_sealed = EXCLUDED.access_token_sealed, expires_at = EXCLUDED.expires_at, updated_at = now();

-- name: GetOIDCToken :one
SELECT * FROM user_oidc_tokens WHERE user_id = $1;
