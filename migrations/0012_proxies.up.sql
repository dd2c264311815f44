-- Workspace proxies: regional relays an admin registers. Each authenticates with its token, of which
-- only the hash is kept (as with API tokens: hrt_<token_id>_<secret>).
CREATE TABLE workspace_proxies (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL UNIQUE,
    token_id     text NOT NULL UNIQUE,
    token_hash   bytea NOT NULL,
    url          text NOT NULL DEFAULT '',
    version      text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz
);

-- A running proxy is a replica of the relay registry whose row the control plane keeps for it: an
-- agent whose tunnel the proxy holds is reached through the proxy's address, like any replica's.
ALTER TABLE replicas ADD COLUMN proxy_id uuid REFERENCES workspace_proxies (id) ON DELETE CASCADE;
