-- name: GetSiteConfig :one
SELECT value FROM site_config WHERE key = $1;

-- name: UpsertSiteConfig :exec
INSERT INTO site_config (key, value) VALUES ($1, $2)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
