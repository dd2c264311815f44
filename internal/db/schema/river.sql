-- River's job table, as far as the queries in internal/db/queries use it: read by sqlc only. River
-- creates and migrates the real table (rivermigrate); its other columns are left out here.
CREATE TYPE river_job_state AS ENUM ('available', 'cancelled', 'completed', 'discarded', 'pending', 'retryable', 'running', 'scheduled');

CREATE TABLE river_job (
    id           bigint PRIMARY KEY,
    state        river_job_state NOT NULL,
    kind         text NOT NULL,
    attempt      smallint NOT NULL,
    finalized_at timestamptz
);
