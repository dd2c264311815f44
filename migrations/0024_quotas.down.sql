ALTER TABLE groups DROP COLUMN quota_allowance;
