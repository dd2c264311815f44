ALTER TABLE workspace_proxies DROP COLUMN stun_port;
ALTER TABLE workspace_proxies DROP COLUMN derp_enabled;
ALTER TABLE workspace_proxies DROP COLUMN derp_region_id;
