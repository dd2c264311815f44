-- Server replicas: each registers itself so the others can relay agent connections to it.
CREATE TABLE replicas (
    id            uuid PRIMARY KEY,
    hostname      text NOT NULL,
    relay_address text NOT NULL,
    version       text NOT NULL DEFAULT '',
    started_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz
);

-- What an agent reports of itself, and which replica holds its tunnel.
ALTER TABLE workspace_agents
    ADD COLUMN lifecycle_state    text NOT NULL DEFAULT 'created'
        CHECK (lifecycle_state IN ('created', 'starting', 'ready', 'start_error', 'start_timeout', 'shutting_down', 'shutdown_error', 'shutdown_timeout', 'off')),
    ADD COLUMN started_at         timestamptz,
    ADD COLUMN ready_at           timestamptz,
    ADD COLUMN replica_id         uuid REFERENCES replicas (id) ON DELETE SET NULL,
    ADD COLUMN connection_id      uuid,
    ADD COLUMN first_connected_at timestamptz,
    ADD COLUMN last_connected_at  timestamptz,
    ADD COLUMN disconnected_at    timestamptz,
    ADD COLUMN version            text NOT NULL DEFAULT '',
    ADD COLUMN app_health         jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN stats              jsonb NOT NULL DEFAULT '{}';

-- Output of an agent's scripts, uploaded in batches.
CREATE TABLE workspace_agent_logs (
    id         bigserial PRIMARY KEY,
    agent_id   uuid NOT NULL REFERENCES workspace_agents (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    source     text NOT NULL,
    level      text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
    output     text NOT NULL
);
CREATE INDEX workspace_agent_logs_agent_id ON workspace_agent_logs (agent_id, id);

-- The latest value of each metadata item an agent measures.
CREATE TABLE workspace_agent_metadata (
    agent_id     uuid NOT NULL REFERENCES workspace_agents (id) ON DELETE CASCADE,
    key          text NOT NULL,
    value        text NOT NULL,
    error        text NOT NULL DEFAULT '',
    collected_at timestamptz NOT NULL,
    PRIMARY KEY (agent_id, key)
);
