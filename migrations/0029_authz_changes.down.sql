DROP TRIGGER groups_authz ON groups;
DROP TRIGGER group_members_authz ON group_members;
DROP TRIGGER workspace_grants_authz ON workspace_grants;
DROP TRIGGER workspaces_authz ON workspaces;
DROP TRIGGER users_authz ON users;
DROP TRIGGER api_keys_authz ON api_keys;
DROP FUNCTION hearth_authz_changed();
