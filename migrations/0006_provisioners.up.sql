-- Uploaded archives (template source), stored once per content.
CREATE TABLE files (
    hash         bytea PRIMARY KEY CHECK (length(hash) = 32),
    content_type text NOT NULL CHECK (content_type IN ('application/x-tar', 'application/zip')),
    data         bytea NOT NULL,
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Provisioner workers that have asked for work, built-in or external. The name identifies a worker
-- across restarts.
CREATE TABLE provisioner_workers (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text NOT NULL UNIQUE,
    version      text NOT NULL DEFAULT '',
    tags         jsonb NOT NULL DEFAULT '{}',
    builtin      boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- Who runs which provisioner job (a River job), and until when. River has neither heartbeats nor
-- fencing for jobs worked outside a River client; this table gives both: a lease names the attempt it
-- was granted for, and expires unless the worker heartbeats.
CREATE TABLE provisioner_leases (
    job_id       bigint PRIMARY KEY,
    attempt      integer NOT NULL,
    worker_id    uuid NOT NULL REFERENCES provisioner_workers (id) ON DELETE CASCADE,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX provisioner_leases_expires_at ON provisioner_leases (expires_at);

-- What provisioner jobs printed, kept after they end.
CREATE TABLE provisioner_job_logs (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id bigint NOT NULL,
    time   timestamptz NOT NULL,
    stage  text NOT NULL,
    level  text NOT NULL,
    output text NOT NULL
);
CREATE INDEX provisioner_job_logs_job_id ON provisioner_job_logs (job_id, id);

-- A version of a template's source and what importing it found. (Templates themselves, which group
-- versions under a name, come with workspaces.)
CREATE TABLE template_versions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    file_hash  bytea NOT NULL REFERENCES files (hash),
    tags       jsonb NOT NULL DEFAULT '{}',
    job_id     bigint,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'canceled')),
    error      text NOT NULL DEFAULT '',
    parameters jsonb NOT NULL DEFAULT '[]',
    variables  jsonb NOT NULL DEFAULT '[]',
    resources  jsonb NOT NULL DEFAULT '[]',
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX template_versions_job_id ON template_versions (job_id);
