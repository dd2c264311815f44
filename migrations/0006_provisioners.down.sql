DROP TABLE template_versions;
DROP TABLE provisioner_job_logs;
DROP TABLE provisioner_leases;
DROP TABLE provisioner_workers;
DROP TABLE files;
