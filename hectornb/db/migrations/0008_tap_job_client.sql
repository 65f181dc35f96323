-- Who sent an anonymous job (the caller's address), so each anonymous client has its own
-- running limit and job quota instead of all of them sharing one.
ALTER TABLE tap_jobs ADD COLUMN client text;
CREATE INDEX tap_jobs_client ON tap_jobs (client) WHERE phase IN ('PENDING', 'QUEUED', 'EXECUTING');
