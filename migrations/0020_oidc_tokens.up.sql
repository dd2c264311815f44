-- The OIDC access token of each user's latest OIDC sign-in, sealed with the deployment's secret key,
-- for templates (data.coder_workspace_owner's oidc_access_token).
CREATE TABLE user_oidc_tokens (
    user_id             uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    access_token_sealed bytea NOT NULL,
    expires_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
