-- name: CountUsers :one
SELECT count(*) FROM users;

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
