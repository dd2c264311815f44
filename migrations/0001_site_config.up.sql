-- Deployment-wide settings that every replica shares. The deployment ID identifies this installation
-- in health output, telemetry-free support bundles and signed tickets.
CREATE TABLE site_config (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO site_config (key, value) VALUES ('deployment_id', gen_random_uuid()::text);
