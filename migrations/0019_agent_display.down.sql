ALTER TABLE workspace_agents DROP COLUMN display_order;
ALTER TABLE workspace_agents DROP COLUMN display_apps;
