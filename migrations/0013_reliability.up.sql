-- The lease clock: the database's time when the control plane last looked at provisioner leases. A
-- gap longer than a few reaper intervals means no replica could reach the database (an outage, or no
-- replica running); leases are then extended by the gap, so workers are not blamed for heartbeats
-- nobody could receive.
CREATE TABLE provisioner_lease_clock (
    id        integer PRIMARY KEY CHECK (id = 1),
    ticked_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO provisioner_lease_clock (id) VALUES (1);

-- A worker that finished Terraform and is still delivering the result says so in its heartbeats.
ALTER TABLE provisioner_leases ADD COLUMN result_pending boolean NOT NULL DEFAULT false;

-- Sign-in attempts, deployment-wide: a token bucket per client address and per login name.
CREATE TABLE signin_attempts (
    key        text PRIMARY KEY,
    tokens     double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- A build that failed because its worker stopped responding may still get its worker's result (the
-- worker was cut off, not dead): until then, no new build of the workspace starts from older state.
ALTER TABLE workspace_builds ADD COLUMN result_grace_until timestamptz;
