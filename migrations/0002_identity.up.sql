-- People who sign in. A password hash is NULL for users who only sign in with OIDC.
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text NOT NULL CHECK (username ~ '^[a-z0-9-]{1,32}$'),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 128),
    password_hash text,
    roles         text[] NOT NULL DEFAULT '{}',
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (username);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Secrets that authenticate requests: sign-in sessions and named API tokens. The token a client holds
-- is hrt_<id>_<secret>; only SHA-256(secret) is stored.
CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('session', 'token')),
    name          text NOT NULL DEFAULT '',
    secret_hash   bytea NOT NULL,
    scopes        text[] NOT NULL DEFAULT '{all}',
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_user_id ON api_keys (user_id);
CREATE UNIQUE INDEX api_keys_user_token_name ON api_keys (user_id, name) WHERE kind = 'token';
