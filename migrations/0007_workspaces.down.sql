DROP VIEW workspace_overview;
DROP FUNCTION workspace_status(text, text);
DROP TABLE workspace_agents;
DROP TABLE workspace_resources;
DROP TABLE workspace_builds;
DROP TABLE workspaces;
ALTER TABLE template_versions DROP COLUMN template_id, DROP COLUMN name, DROP COLUMN message,
    DROP COLUMN archived, DROP COLUMN variable_values;
DROP TABLE templates;
