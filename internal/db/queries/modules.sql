-- name: InsertModule :one
INSERT INTO modules (host, namespace, name, system, version, file_hash, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *;

-- name: ListModules :many
SELECT * FROM modules ORDER BY host, namespace, name, system, created_at;

-- name: ListModuleVersions :many
SELECT version FROM modules WHERE host = $1 AND namespace = $2 AND name = $3 AND system = $4 ORDER BY created_at;

-- name: GetModuleArchive :one
SELECT m.*, f.data, f.content_type FROM modules m JOIN files f ON f.hash = m.file_hash
WHERE m.host = $1 AND m.namespace = $2 AND m.name = $3 AND m.system = $4 AND m.version = $5;

-- name: ListModuleHosts :many
SELECT DISTINCT host FROM modules ORDER BY host;
