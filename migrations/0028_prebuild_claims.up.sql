-- The reconciler counts each preset's claims (claimed prebuilds, deleted since or not) at every pass.
CREATE INDEX workspaces_claimed_prebuilds ON workspaces (template_id, preset) WHERE claimed_at IS NOT NULL;
