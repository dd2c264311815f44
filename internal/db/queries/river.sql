-- River's job table is River's: the server writes to it only to complete a provisioner job, the one
-- write that is not a call to River's driver (internal/riverclaim says why, and its
-- TestCompleteMatchesRiver checks every query here that completes a job against River's own
-- completion). Each is fenced: it changes the job only while it runs the attempt given.

-- name: CompleteRiverJob :execrows
UPDATE river_job SET state = 'completed', finalized_at = now()
WHERE id = @id::bigint AND state = 'running' AND attempt = @attempt::int;
