DROP TABLE workspace_agent_metadata;
DROP TABLE workspace_agent_logs;
ALTER TABLE workspace_agents DROP COLUMN lifecycle_state, DROP COLUMN started_at, DROP COLUMN ready_at,
    DROP COLUMN replica_id, DROP COLUMN connection_id, DROP COLUMN first_connected_at, DROP COLUMN last_connected_at,
    DROP COLUMN disconnected_at, DROP COLUMN version, DROP COLUMN app_health, DROP COLUMN stats;
DROP TABLE replicas;
