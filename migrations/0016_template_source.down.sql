ALTER TABLE template_versions DROP COLUMN presets;
ALTER TABLE template_versions DROP COLUMN workspace_tags;
ALTER TABLE template_versions DROP COLUMN warnings;
