-- Quotas: each group gives its members a daily credit allowance; a user's allowance is the sum over
-- their groups (everyone included). A running workspace costs the daily_cost of its resources.
ALTER TABLE groups ADD COLUMN quota_allowance integer NOT NULL DEFAULT 0 CHECK (quota_allowance >= 0);
