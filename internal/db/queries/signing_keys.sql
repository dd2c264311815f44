-- name: ListSigningKeys :many
-- Keys that still verify, newest first; the first one not rotated out signs.
SELECT * FROM signing_keys WHERE retire_at IS NULL OR retire_at > now() ORDER BY created_at DESC;

-- name: InsertSigningKey :exec
INSERT INTO signing_keys (kid, algorithm, public_key, sealed_key) VALUES ($1, $2, $3, $4);

-- name: RotateSigningKeys :exec
-- Stops every current key from signing; each still verifies for @verify_seconds.
UPDATE signing_keys SET rotated_at = now(), retire_at = now() + make_interval(secs => @verify_seconds::float8) WHERE rotated_at IS NULL;

-- name: DeleteRetiredSigningKeys :execrows
DELETE FROM signing_keys WHERE retire_at <= now();

-- name: LockSigningKeys :exec
-- Serializes key creation and rotation across replicas.
SELECT pg_advisory_xact_lock(7413);
