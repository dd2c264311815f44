-- Retention: what the maintenance jobs delete. Each statement deletes at most a batch, so a large
-- backlog goes in short transactions.

-- name: DeleteOldJobLogs :execrows
-- Log lines older than the cutoff, except those of each live workspace's latest build and of each
-- template's active version (what people still look at).
WITH keep AS (
    SELECT b.job_id FROM workspaces w
    JOIN LATERAL (SELECT job_id FROM workspace_builds wb WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true
    WHERE NOT w.deleted AND b.job_id IS NOT NULL
    UNION
    SELECT v.job_id FROM templates t JOIN template_versions v ON v.id = t.active_version_id
    WHERE t.deleted_at IS NULL AND v.job_id IS NOT NULL
)
DELETE FROM provisioner_job_logs WHERE id IN (
    SELECT l.id FROM provisioner_job_logs l
    WHERE l.time < @before::timestamptz AND l.job_id NOT IN (SELECT job_id FROM keep)
    ORDER BY l.id LIMIT @batch::int);

-- name: DeleteExpiredAPIKeys :execrows
-- Sessions and tokens that expired before the cutoff.
DELETE FROM api_keys WHERE id IN (SELECT id FROM api_keys WHERE expires_at < @before::timestamptz LIMIT @batch::int);

-- name: DeleteOldAuditEntries :execrows
DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE time < @before::timestamptz ORDER BY id LIMIT @batch::int);

-- name: DeleteOrphanFiles :execrows
-- Uploaded archives that no template version uses, uploaded before the cutoff.
DELETE FROM files f WHERE f.hash IN (
    SELECT fo.hash FROM files fo WHERE fo.created_at < @before::timestamptz
      AND NOT EXISTS (SELECT 1 FROM template_versions v WHERE v.file_hash = fo.hash)
    LIMIT @batch::int);

-- name: DeleteGoneProvisionerWorkers :execrows
-- External workers not seen since the cutoff and running nothing.
DELETE FROM provisioner_workers WHERE id IN (
    SELECT w.id FROM provisioner_workers w WHERE NOT w.builtin AND w.last_seen_at < @before::timestamptz
      AND NOT EXISTS (SELECT 1 FROM provisioner_leases l WHERE l.worker_id = w.id)
    LIMIT @batch::int);
