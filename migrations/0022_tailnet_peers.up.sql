-- The tailnet's coordination: every node connected to a replica's coordinator (an agent, or a
-- client asking for one agent), with what it last said of itself. Replicas share it through
-- NOTIFY tailnet (payload: the agent's ID), so a client on one replica reaches an agent on another.
-- DERP admits only node keys found here.
CREATE TABLE tailnet_peers (
    id         uuid PRIMARY KEY,
    agent_id   uuid NOT NULL REFERENCES workspace_agents (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('agent', 'client')),
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    replica_id uuid NOT NULL REFERENCES replicas (id) ON DELETE CASCADE,
    node_key   text NOT NULL UNIQUE,
    node       jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tailnet_peers_agent ON tailnet_peers (agent_id, kind);
CREATE INDEX tailnet_peers_replica ON tailnet_peers (replica_id);
