-- What a version's source asks for, read before Terraform runs: constructs of the coder provider
-- that Hearth does not honour (with file and line), and the workspace tags that route its builds.
ALTER TABLE template_versions ADD COLUMN warnings jsonb NOT NULL DEFAULT '[]';
ALTER TABLE template_versions ADD COLUMN workspace_tags jsonb NOT NULL DEFAULT '[]';
-- The version's coder_workspace_presets, as its import found them.
ALTER TABLE template_versions ADD COLUMN presets jsonb NOT NULL DEFAULT '[]';
