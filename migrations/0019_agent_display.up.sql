-- How the dashboard shows an agent: which built-in apps (coder_agent display_apps) and in what
-- order among the workspace's agents (coder_agent order).
ALTER TABLE workspace_agents ADD COLUMN display_apps jsonb NOT NULL DEFAULT '{}';
ALTER TABLE workspace_agents ADD COLUMN display_order int NOT NULL DEFAULT 0;
