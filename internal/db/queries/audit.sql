-- name: InsertAuditEntry :exec
INSERT INTO audit_log (user_id, username, action, resource_type, resource_id, resource_name, diff, ip,
                       user_agent, request_id, status, result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12);

-- name: ListAuditEntries :many
-- Newest first; before is the id of the last entry of the previous page (0 for the first page).
SELECT * FROM audit_log
WHERE (@before::bigint = 0 OR id < @before)
  AND (@username::text = '' OR username = @username)
  AND (@action::text = '' OR action = @action)
  AND (@resource_type::text = '' OR resource_type = @resource_type)
  AND (@resource_id::text = '' OR resource_id = @resource_id)
  AND (@result::text = '' OR result = @result)
  AND (sqlc.narg(since)::timestamptz IS NULL OR time >= sqlc.narg(since))
  AND (sqlc.narg(until)::timestamptz IS NULL OR time < sqlc.narg(until))
ORDER BY id DESC
LIMIT @max_rows;
