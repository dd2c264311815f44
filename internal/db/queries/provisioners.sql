-- name: InsertFile :exec
INSERT INTO files (hash, content_type, data, created_by) VALUES ($1, $2, $3, $4)
ON CONFLICT (hash) DO NOTHING;

-- name: GetFile :one
SELECT * FROM files WHERE hash = $1;

-- name: UpsertProvisionerWorker :one
INSERT INTO provisioner_workers (name, version, tags, builtin) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, tags = EXCLUDED.tags, builtin = EXCLUDED.builtin, last_seen_at = now()
RETURNING *;

-- name: ListProvisionerWorkers :many
SELECT w.*, l.job_id AS current_job_id
FROM provisioner_workers w LEFT JOIN provisioner_leases l ON l.worker_id = w.id
ORDER BY w.name;

-- name: RenewLease :execrows
UPDATE provisioner_leases SET heartbeat_at = now(), expires_at = $3, result_pending = @result_pending
WHERE job_id = $1 AND attempt = $2;

-- name: TickLeaseClock :one
-- Moves the lease clock to the database's now. When its last tick is more than @gap_seconds old, no
-- replica looked at the leases for that long (the database was unreachable, or no replica ran), and
-- every lease is extended by the part of the gap since its last heartbeat: heartbeats that nobody
-- could receive do not count against workers (a lease heartbeated during the gap gains only the time
-- since). Returns the gap's seconds (0 when there was none) and how many leases were extended.
WITH prev AS (
    SELECT ticked_at FROM provisioner_lease_clock WHERE id = 1 FOR UPDATE
), gap AS (
    SELECT CASE WHEN now() - ticked_at > make_interval(secs => @gap_seconds::float8) THEN now() - ticked_at
        ELSE interval '0' END AS d, ticked_at FROM prev
), extended AS (
    UPDATE provisioner_leases SET expires_at = expires_at + (now() - GREATEST(heartbeat_at, (SELECT ticked_at FROM gap)))
    WHERE (SELECT d FROM gap) > interval '0'
    RETURNING 1
), tick AS (
    UPDATE provisioner_lease_clock SET ticked_at = now() WHERE id = 1
)
SELECT COALESCE(extract(epoch FROM (SELECT d FROM gap)), 0)::float8 AS extended_seconds,
    (SELECT count(*) FROM extended) AS leases;

-- name: GetRiverJobAttempt :one
-- Where a job stands, for a result that arrives after the job stopped running.
SELECT state::text AS state, attempt FROM river_job WHERE id = $1;

-- name: ReviveRiverJob :execrows
-- Puts a job that its lease reaper (or a cancellation) ended back to running, for the result of the
-- same attempt that arrived late: only while no other attempt has claimed it.
UPDATE river_job SET state = 'running', finalized_at = NULL
WHERE id = @job_id::bigint AND attempt = @attempt::int AND state IN ('discarded', 'cancelled', 'retryable', 'available');

-- name: DeleteLease :exec
DELETE FROM provisioner_leases WHERE job_id = $1 AND attempt = $2;

-- name: ListExpiredLeases :many
SELECT l.*, w.name AS worker_name FROM provisioner_leases l JOIN provisioner_workers w ON w.id = l.worker_id
WHERE l.expires_at < now() ORDER BY l.expires_at LIMIT 100;

-- name: InsertJobLogs :exec
INSERT INTO provisioner_job_logs (job_id, time, stage, level, output)
SELECT @job_id::bigint, unnest(@times::timestamptz[]), unnest(@stages::text[]), unnest(@levels::text[]), unnest(@outputs::text[]);

-- name: ListJobLogs :many
SELECT * FROM provisioner_job_logs WHERE job_id = $1 AND id > @after::bigint ORDER BY id LIMIT 10000;

-- name: InsertTemplateVersion :one
INSERT INTO template_versions (id, file_hash, tags, created_by, template_id, name, message, variable_values, warnings, workspace_tags)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *;

-- name: SetTemplateVersionJob :exec
UPDATE template_versions SET job_id = $2, updated_at = now() WHERE id = $1;

-- name: GetTemplateVersion :one
SELECT * FROM template_versions WHERE id = $1;

-- name: GetTemplateVersionByJob :one
SELECT * FROM template_versions WHERE job_id = $1;

-- name: SetTemplateVersionStatus :exec
UPDATE template_versions SET status = $2, error = $3, updated_at = now() WHERE id = $1;


-- name: StartTemplateVersionImports :many
-- Leases import jobs to their workers, marks their versions' imports running and returns their source
-- archives: one statement for every import one claim took (one round trip however many).
WITH claimed AS (
    SELECT unnest(@job_ids::bigint[]) AS job_id, unnest(@attempts::int[]) AS attempt,
        unnest(@worker_ids::uuid[]) AS worker_id, unnest(@version_ids::uuid[]) AS version_id
), lease AS (
    INSERT INTO provisioner_leases (job_id, attempt, worker_id, expires_at)
    SELECT job_id, attempt, worker_id, @expires_at FROM claimed
    ON CONFLICT (job_id) DO UPDATE SET attempt = EXCLUDED.attempt, worker_id = EXCLUDED.worker_id,
        started_at = now(), heartbeat_at = now(), expires_at = EXCLUDED.expires_at
)
UPDATE template_versions v SET status = 'running', updated_at = now()
FROM claimed c, files f
WHERE v.id = c.version_id AND f.hash = v.file_hash
RETURNING c.job_id::bigint AS job_id, v.id, v.variable_values, f.data, f.content_type;

-- name: CompleteTemplateVersionImport :one
-- Completes an import job (fenced, as CompleteRiverJob), ends its lease and stores its result, all or
-- nothing and in one statement: one round trip, its own transaction. Returns 1 if the job was running
-- that attempt, else 0 and nothing changed.
WITH job AS (
    UPDATE river_job SET state = 'completed', finalized_at = now()
    WHERE id = @job_id::bigint AND state = 'running' AND attempt = @attempt::int
    RETURNING id
), lease AS (
    DELETE FROM provisioner_leases WHERE job_id = (SELECT id FROM job) AND attempt = @attempt::int
), version AS (
    UPDATE template_versions SET status = 'succeeded', error = '', parameters = @parameters, variables = @variables,
        resources = @resources, presets = @presets, external_auth = @external_auth, updated_at = now()
    WHERE job_id = (SELECT id FROM job)
)
SELECT count(*) FROM job;

-- name: GetProvisionerWorker :one
SELECT * FROM provisioner_workers WHERE id = $1;

-- name: SetTemplateVersionDiagnosticsByJob :exec
UPDATE template_versions SET diagnostics = @diagnostics WHERE job_id = @job_id;

-- name: SetWorkspaceBuildDiagnosticsByJob :exec
UPDATE workspace_builds SET diagnostics = @diagnostics WHERE job_id = @job_id;

-- name: ListJobStages :many
-- When each stage of these jobs began and printed its last line, in the order the stages began.
SELECT job_id, stage, min(time)::timestamptz AS first_at, max(time)::timestamptz AS last_at
FROM provisioner_job_logs WHERE job_id = ANY(@job_ids::bigint[])
GROUP BY job_id, stage ORDER BY job_id, min(id);
