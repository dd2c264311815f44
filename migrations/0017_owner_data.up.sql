-- Each user's Git SSH key pair, which templates read as data.coder_workspace_owner's ssh_public_key
-- and ssh_private_key. The private key is sealed with the deployment's secret key.
CREATE TABLE user_git_ssh_keys (
    user_id            uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    public_key         text NOT NULL,
    private_key_sealed bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
