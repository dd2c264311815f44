ALTER TABLE workspace_builds DROP COLUMN result_grace_until;
DROP TABLE signin_attempts;
ALTER TABLE provisioner_leases DROP COLUMN result_pending;
DROP TABLE provisioner_lease_clock;
