ALTER TABLE workspace_builds DROP COLUMN diagnostics;
ALTER TABLE template_versions DROP COLUMN diagnostics;
