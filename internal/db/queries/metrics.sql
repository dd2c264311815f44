-- What the deployment's metrics read at scrape time (the same figures from every replica: a
-- dashboard takes their max, not their sum).

-- name: CountFinishedBuilds :many
-- Finished builds by transition and outcome: counters for as long as builds are kept.
SELECT transition, status, count(*)::bigint AS builds
FROM workspace_builds WHERE completed_at IS NOT NULL
GROUP BY transition, status;

-- name: RecentBuildDurations :many
-- The run time (started to completed) of the builds finished in the last 15 minutes, by transition.
SELECT transition,
       count(*)::bigint AS builds,
       (percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at)))::float8 AS p50,
       (percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at)))::float8 AS p95
FROM workspace_builds
WHERE completed_at > now() - interval '15 minutes' AND started_at IS NOT NULL
GROUP BY transition;

-- name: CountConnectedAgents :one
-- Agents whose tunnel a replica holds now.
SELECT count(*)::bigint FROM workspace_agents WHERE replica_id IS NOT NULL;

-- name: CountLiveRiverJobs :many
-- River's jobs not yet finished, by state and kind (finished ones are River's to prune).
SELECT state::text AS state, kind, count(*)::bigint AS jobs
FROM river_job WHERE state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
GROUP BY state, kind;
