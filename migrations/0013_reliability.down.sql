DROP TABLE signin_attempts;
ALTER TABLE provisioner_leases DROP COLUMN result_pending;
DROP TABLE provisioner_lease_clock;
