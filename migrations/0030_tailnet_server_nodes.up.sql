-- A replica's own node (kind 'server') reaches the agents whose tunnels other replicas or workspace
-- proxies hold, for the web terminal, apps and relayed connections: one node, a row for each agent it
-- has asked for. So a row is a node's coordination with one agent, and only a server node's key may
-- appear in several rows (a client's or an agent's key is still its own).
ALTER TABLE tailnet_peers DROP CONSTRAINT tailnet_peers_pkey;
ALTER TABLE tailnet_peers ADD PRIMARY KEY (id, agent_id);
ALTER TABLE tailnet_peers DROP CONSTRAINT tailnet_peers_node_key_key;
CREATE UNIQUE INDEX tailnet_peers_node_key ON tailnet_peers (node_key) WHERE kind <> 'server';
CREATE INDEX tailnet_peers_key ON tailnet_peers (node_key);
ALTER TABLE tailnet_peers DROP CONSTRAINT tailnet_peers_kind_check;
ALTER TABLE tailnet_peers ADD CONSTRAINT tailnet_peers_kind_check CHECK (kind IN ('agent', 'client', 'server'));
