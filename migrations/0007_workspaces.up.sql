-- Templates group versions under a name; one version is active (what new workspaces get). Deleted
-- templates are kept (builds refer to their versions) with their name freed.
CREATE TABLE templates (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text NOT NULL,
    display_name         text NOT NULL DEFAULT '',
    description          text NOT NULL DEFAULT '',
    icon                 text NOT NULL DEFAULT '',
    active_version_id    uuid NOT NULL REFERENCES template_versions (id),
    -- Schedule policy, enforced by the lifecycle jobs: 0 means none.
    default_ttl_seconds  bigint NOT NULL DEFAULT 0 CHECK (default_ttl_seconds >= 0),
    max_ttl_seconds      bigint NOT NULL DEFAULT 0 CHECK (max_ttl_seconds >= 0),
    allow_user_autostart boolean NOT NULL DEFAULT true,
    allow_user_autostop  boolean NOT NULL DEFAULT true,
    autostart_days       text[] NOT NULL DEFAULT '{mon,tue,wed,thu,fri,sat,sun}',
    created_by           uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deleted_at           timestamptz
);
CREATE UNIQUE INDEX templates_name ON templates (lower(name)) WHERE deleted_at IS NULL;

-- A version belongs to a template once the template is made from it or it is pushed to one. Its
-- Terraform variable values are sealed with the deployment's secret key: some may be sensitive.
ALTER TABLE template_versions
    ADD COLUMN template_id     uuid REFERENCES templates (id),
    ADD COLUMN name            text NOT NULL DEFAULT '',
    ADD COLUMN message         text NOT NULL DEFAULT '',
    ADD COLUMN archived        boolean NOT NULL DEFAULT false,
    ADD COLUMN variable_values bytea;
CREATE INDEX template_versions_template_id ON template_versions (template_id, created_at);

-- Workspaces: a name unique per owner among those not deleted.
CREATE TABLE workspaces (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id     uuid NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    template_id  uuid NOT NULL REFERENCES templates (id),
    name         text NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX workspaces_owner_name ON workspaces (owner_id, lower(name)) WHERE NOT deleted;
CREATE INDEX workspaces_template_id ON workspaces (template_id) WHERE NOT deleted;

-- Every change to a workspace is a build: a transition run by a provisioner job (none for an orphan
-- delete). Terraform's state after the build is kept per build, sealed: it holds the agent tokens.
CREATE TABLE workspace_builds (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    number              integer NOT NULL,
    template_version_id uuid NOT NULL REFERENCES template_versions (id),
    transition          text NOT NULL CHECK (transition IN ('start', 'stop', 'delete')),
    initiator_id        uuid REFERENCES users (id) ON DELETE SET NULL,
    job_id              bigint,
    status              text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'canceling', 'canceled')),
    error               text NOT NULL DEFAULT '',
    parameters          jsonb NOT NULL DEFAULT '[]',
    state               bytea,
    orphan              boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    completed_at        timestamptz,
    UNIQUE (workspace_id, number)
);
-- At most one build per workspace is under way.
CREATE UNIQUE INDEX workspace_builds_one_active ON workspace_builds (workspace_id)
    WHERE status IN ('pending', 'running', 'canceling');
CREATE INDEX workspace_builds_job_id ON workspace_builds (job_id);

-- What a build made: resources, the agents on them (with the hash of the token Terraform generated)
-- and everything the agents run.
CREATE TABLE workspace_resources (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    build_id   uuid NOT NULL REFERENCES workspace_builds (id) ON DELETE CASCADE,
    type       text NOT NULL,
    name       text NOT NULL,
    hide       boolean NOT NULL DEFAULT false,
    icon       text NOT NULL DEFAULT '',
    daily_cost integer NOT NULL DEFAULT 0,
    metadata   jsonb NOT NULL DEFAULT '[]',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspace_resources_build_id ON workspace_resources (build_id);

CREATE TABLE workspace_agents (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    resource_id                uuid NOT NULL REFERENCES workspace_resources (id) ON DELETE CASCADE,
    build_id                   uuid NOT NULL REFERENCES workspace_builds (id) ON DELETE CASCADE,
    name                       text NOT NULL,
    os                         text NOT NULL,
    arch                       text NOT NULL,
    directory                  text NOT NULL DEFAULT '',
    token_hash                 bytea NOT NULL CHECK (length(token_hash) = 32),
    env                        jsonb NOT NULL DEFAULT '{}',
    scripts                    jsonb NOT NULL DEFAULT '[]',
    metadata                   jsonb NOT NULL DEFAULT '[]',
    apps                       jsonb NOT NULL DEFAULT '[]',
    motd_file                  text NOT NULL DEFAULT '',
    troubleshooting_url        text NOT NULL DEFAULT '',
    connection_timeout_seconds integer NOT NULL DEFAULT 120,
    created_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workspace_agents_build_id ON workspace_agents (build_id);
CREATE INDEX workspace_agents_token_hash ON workspace_agents (token_hash);

-- A workspace's status follows from its latest build: the one place this is decided.
CREATE FUNCTION workspace_status(transition text, status text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status = 'pending' THEN 'pending'
        WHEN status = 'canceling' THEN 'canceling'
        WHEN status = 'canceled' THEN 'canceled'
        WHEN status = 'failed' THEN 'failed'
        WHEN status = 'running' THEN CASE transition WHEN 'start' THEN 'starting' WHEN 'stop' THEN 'stopping' ELSE 'deleting' END
        ELSE CASE transition WHEN 'start' THEN 'running' WHEN 'stop' THEN 'stopped' ELSE 'deleted' END
    END
$$;

-- A workspace with what lists and pages show of it: owner, template and latest build.
CREATE VIEW workspace_overview AS
SELECT w.id, w.owner_id, w.template_id, w.name, w.deleted, w.created_at, w.updated_at, w.last_used_at,
    u.username AS owner_name, t.name AS template_name, t.display_name AS template_display_name,
    t.icon AS template_icon, t.active_version_id AS template_active_version_id,
    b.id AS build_id, b.number AS build_number, b.transition AS build_transition, b.status AS build_status,
    b.template_version_id, b.job_id AS build_job_id, b.error AS build_error, b.created_at AS build_created_at,
    b.completed_at AS build_completed_at, workspace_status(b.transition, b.status) AS status
FROM workspaces w
JOIN users u ON u.id = w.owner_id
JOIN templates t ON t.id = w.template_id
JOIN LATERAL (SELECT * FROM workspace_builds wb WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true;
