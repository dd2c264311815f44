-- Prebuilt workspaces: a preset's prebuilds { instances = N } keeps N workspaces of it built and
-- running, owned by a system user, for users to claim when they create a workspace with that preset.
-- System users are no people: they never sign in, are not listed or counted, and hold no groups.
ALTER TABLE users ADD COLUMN is_system boolean NOT NULL DEFAULT false;
INSERT INTO users (id, username, email, name, roles, is_system)
VALUES ('c42fdf75-3097-471c-8c33-fb52454d81c0', 'prebuilds', 'prebuilds@system.invalid', 'Prebuilt workspaces', '{}', true);

-- The preset a workspace was made with ('' for none): a prebuild's pool, and what a claim matches.
ALTER TABLE workspaces ADD COLUMN preset text NOT NULL DEFAULT '';
-- When a prebuild was claimed (NULL: never a prebuild, or not claimed yet).
ALTER TABLE workspaces ADD COLUMN claimed_at timestamptz;
CREATE INDEX workspaces_prebuilds ON workspaces (template_id, preset)
    WHERE owner_id = 'c42fdf75-3097-471c-8c33-fb52454d81c0' AND NOT deleted;

-- A claimed prebuild's agent gets a new token; the one its build gave it keeps working until the
-- agent has taken the new one (which the server hands it over its tunnel).
ALTER TABLE workspace_agents ADD COLUMN previous_token_hash bytea;
CREATE INDEX workspace_agents_previous_token_hash ON workspace_agents (previous_token_hash) WHERE previous_token_hash IS NOT NULL;
