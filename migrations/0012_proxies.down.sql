ALTER TABLE replicas DROP COLUMN proxy_id;
DROP TABLE workspace_proxies;
