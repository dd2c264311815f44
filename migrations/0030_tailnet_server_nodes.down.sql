DELETE FROM tailnet_peers WHERE kind = 'server';
ALTER TABLE tailnet_peers DROP CONSTRAINT tailnet_peers_kind_check;
ALTER TABLE tailnet_peers ADD CONSTRAINT tailnet_peers_kind_check CHECK (kind IN ('agent', 'client'));
DROP INDEX tailnet_peers_key;
DROP INDEX tailnet_peers_node_key;
ALTER TABLE tailnet_peers ADD CONSTRAINT tailnet_peers_node_key_key UNIQUE (node_key);
ALTER TABLE tailnet_peers DROP CONSTRAINT tailnet_peers_pkey;
ALTER TABLE tailnet_peers ADD PRIMARY KEY (id);
