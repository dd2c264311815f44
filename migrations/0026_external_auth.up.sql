-- External auth: a user's link to an account at an external auth provider (GitHub, GitLab, any
-- OAuth2 app the operator configured), whose tokens templates and workspaces use. Tokens are sealed
-- with the deployment's secret key; a user's links go with the user.
CREATE TABLE external_auth_links (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id text NOT NULL,
    access_token_sealed bytea NOT NULL,
    refresh_token_sealed bytea,
    -- When the access token stops working (NULL: the provider did not say).
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, provider_id)
);

-- The providers a template version's data "coder_external_auth" blocks name: [{"id", "optional"}].
ALTER TABLE template_versions ADD COLUMN external_auth jsonb NOT NULL DEFAULT '[]';
