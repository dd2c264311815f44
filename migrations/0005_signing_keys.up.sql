-- Keys that sign short-lived tickets (JWTs). The private key is sealed (AES-256-GCM) with the
-- deployment's secret key, which is not in the database. Verifiers need only the public key.
CREATE TABLE signing_keys (
    kid          text PRIMARY KEY,
    algorithm    text NOT NULL CHECK (algorithm IN ('EdDSA')),
    public_key   bytea NOT NULL,
    sealed_key   bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- A key signs until it is rotated out, then only verifies until retire_at.
    rotated_at   timestamptz,
    retire_at    timestamptz
);
