-- Changes that can take away someone's right to reach a workspace's agents: a token deleted or cut
-- short, a user suspended or deleted or their roles changed, a workspace deleted or given to another
-- owner, a share or a group membership withdrawn. Each is announced to every replica (NOTIFY
-- hearth_authn 'authz', the channel of token revocations, delivered when the change commits), which
-- checks its open connections (tailnet coordinations, relayed streams) again at once, rather than
-- asking the database about every connection every second.
CREATE FUNCTION hearth_authz_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hearth_authn', 'authz');
    RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_authz AFTER DELETE OR UPDATE OF expires_at, user_id ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_authz_changed();
CREATE TRIGGER users_authz AFTER DELETE OR UPDATE OF status, roles ON users
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_authz_changed();
CREATE TRIGGER workspaces_authz AFTER DELETE OR UPDATE OF owner_id, deleted ON workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_authz_changed();
CREATE TRIGGER workspace_grants_authz AFTER DELETE OR UPDATE ON workspace_grants
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_authz_changed();
CREATE TRIGGER group_members_authz AFTER DELETE OR UPDATE ON group_members
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_authz_changed();
CREATE TRIGGER groups_authz AFTER DELETE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION hearth_authz_changed();
