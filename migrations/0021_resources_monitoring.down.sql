ALTER TABLE workspace_agents DROP COLUMN resources_usage_at;
ALTER TABLE workspace_agents DROP COLUMN resources_usage;
ALTER TABLE workspace_agents DROP COLUMN resources_monitoring;
