-- Terraform's diagnostics of a failed import or build, as structured items (severity, summary,
-- detail, file and line when known), next to the one-line error.
ALTER TABLE template_versions ADD COLUMN diagnostics jsonb NOT NULL DEFAULT '[]';
ALTER TABLE workspace_builds ADD COLUMN diagnostics jsonb NOT NULL DEFAULT '[]';
