ALTER TABLE workspace_agents DROP COLUMN previous_token_hash;
ALTER TABLE workspaces DROP COLUMN claimed_at;
ALTER TABLE workspaces DROP COLUMN preset;
DELETE FROM users WHERE id = 'c42fdf75-3097-471c-8c33-fb52454d81c0';
ALTER TABLE users DROP COLUMN is_system;
