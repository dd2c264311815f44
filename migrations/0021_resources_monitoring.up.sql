-- coder_agent resources_monitoring: the thresholds the template set, and the agent's latest report
-- of memory and volume use.
ALTER TABLE workspace_agents ADD COLUMN resources_monitoring jsonb NOT NULL DEFAULT '{}';
ALTER TABLE workspace_agents ADD COLUMN resources_usage jsonb NOT NULL DEFAULT '{}';
ALTER TABLE workspace_agents ADD COLUMN resources_usage_at timestamptz;
