-- Groups of users. Every group belongs to an organization; until organizations exist there is one,
-- the nil UUID, and names are unique within it (so organizations will not have to break a global
-- uniqueness). The Everyone group is a row like the others, but its members are not stored: every
-- user is one.
CREATE TABLE groups (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    name            text NOT NULL CHECK (name ~ '^[a-z0-9](?:[a-z0-9-]{0,34}[a-z0-9])?$'),
    display_name    text NOT NULL DEFAULT '' CHECK (length(display_name) <= 64),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX groups_name ON groups (organization_id, lower(name));
INSERT INTO groups (id, name, display_name) VALUES ('00000000-0000-0000-0000-00000000e0e0', 'everyone', 'Everyone');

-- Members by hand ('manual') or from the OIDC groups claim at sign-in ('oidc': replaced at each
-- sign-in, while manual memberships stay).
CREATE TABLE group_members (
    group_id   uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source     text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'oidc')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Access lists: a role on a template ('use': see it and create workspaces from it; 'admin': also
-- change it) or on a workspace ('use': connect, apps, start and stop; 'admin': also update, delete and
-- share), granted to one user or one group.
CREATE TABLE template_grants (
    template_id uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    user_id     uuid REFERENCES users (id) ON DELETE CASCADE,
    group_id    uuid REFERENCES groups (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('use', 'admin')),
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX template_grants_user ON template_grants (template_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX template_grants_group ON template_grants (template_id, group_id) WHERE group_id IS NOT NULL;

CREATE TABLE workspace_grants (
    workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    group_id     uuid REFERENCES groups (id) ON DELETE CASCADE,
    role         text NOT NULL CHECK (role IN ('use', 'admin')),
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE UNIQUE INDEX workspace_grants_user ON workspace_grants (workspace_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX workspace_grants_group ON workspace_grants (workspace_id, group_id) WHERE group_id IS NOT NULL;
CREATE INDEX workspace_grants_user_lookup ON workspace_grants (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX workspace_grants_group_lookup ON workspace_grants (group_id) WHERE group_id IS NOT NULL;

-- Templates made before access lists stay usable by everyone, as new templates are by default.
INSERT INTO template_grants (template_id, group_id, role)
SELECT id, '00000000-0000-0000-0000-00000000e0e0', 'use' FROM templates;
