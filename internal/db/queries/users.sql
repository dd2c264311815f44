-- name: CountUsers :one
-- People: system users (the owner of prebuilt workspaces) are not counted.
SELECT count(*) FROM users WHERE NOT is_system;

-- name: InsertUser :one
INSERT INTO users (username, email, name, password_hash, roles)
VALUES ($1, $2, $3, $4, $5)
RETURNING *;

-- name: GetUserByID :one
SELECT * FROM users WHERE id = $1;

-- name: GetUserByLogin :one
SELECT * FROM users WHERE username = lower(@login::text) OR lower(email) = lower(@login::text)
LIMIT 1;

-- name: LockUserCreation :exec
-- Serializes first-user set-up: two concurrent requests cannot both create the owner.
SELECT pg_advisory_xact_lock(7412);

-- name: GetUserByUsername :one
SELECT * FROM users WHERE username = $1;

-- name: ListUsers :many
-- Users matching a search (username, email or name, case-insensitively) and status, by username,
-- with the number of all matches for paging.
SELECT sqlc.embed(users), count(*) OVER () AS total
FROM users
WHERE NOT is_system AND (@search::text = '' OR username ILIKE '%' || @search || '%' OR email ILIKE '%' || @search || '%'
       OR name ILIKE '%' || @search || '%')
  AND (@status::text = '' OR status = @status)
ORDER BY username
LIMIT @max_rows OFFSET @skip;

-- name: UpdateUserProfile :one
UPDATE users SET username = $2, email = $3, name = $4, updated_at = now() WHERE id = $1 RETURNING *;

-- name: UpdateUserRoles :one
UPDATE users SET roles = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: UpdateUserStatus :one
UPDATE users SET status = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: UpdateUserPassword :exec
UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1;

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = $1;

-- name: CountActiveOwners :one
-- Locks the owners' rows, so two requests cannot each remove a different last owner.
SELECT count(*) FROM (SELECT id FROM users WHERE 'owner' = ANY (roles) AND status = 'active' FOR UPDATE) o;

-- name: GetUserByOIDC :one
SELECT * FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2;

-- name: InsertOIDCUser :one
INSERT INTO users (username, email, name, roles, oidc_issuer, oidc_subject)
VALUES ($1, $2, $3, '{}', $4, $5)
RETURNING *;

-- name: LinkUserOIDC :one
UPDATE users SET oidc_issuer = $2, oidc_subject = $3, updated_at = now() WHERE id = $1 RETURNING *;

-- name: SetUserQuietHours :one
UPDATE users SET quiet_hours_schedule = $2, updated_at = now() WHERE id = $1 RETURNING *;

-- name: TakeSigninAttempt :one
-- Takes one sign-in attempt from key's token bucket (@burst deep, one back every @every_seconds),
-- shared by every replica; true when one was left. A refused attempt still costs a little (the
-- bucket goes to -1 at most), so hammering does not refill it.
WITH p AS (SELECT @burst::float8 AS burst, @every_seconds::float8 AS every)
INSERT INTO signin_attempts AS s (key, tokens, updated_at) SELECT @key, p.burst - 1, now() FROM p
ON CONFLICT (key) DO UPDATE SET
    tokens = GREATEST(LEAST((SELECT burst FROM p), s.tokens + extract(epoch FROM now() - s.updated_at) / (SELECT every FROM p)) - 1, -1),
    updated_at = now()
RETURNING tokens >= 0 AS allowed;

-- name: DeleteIdleSigninAttempts :execrows
-- Buckets untouched since the cutoff are full again: forget them.
DELETE FROM signin_attempts WHERE updated_at < @before::timestamptz;
