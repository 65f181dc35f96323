-- The platform's own tables as TAP sees them: current records only, arrays as text.
-- Names that ADQL reserves (date, time) are renamed. Views run with their owner's rights, so the TAP role reads them without any right on the
-- tables behind them (API tokens, history, …).
CREATE SCHEMA IF NOT EXISTS hectornb_pub;

CREATE VIEW hectornb_pub.target_lists AS
SELECT name AS list_name, owner, source_filename, n_targets, created_at
FROM target_list WHERE deleted_at IS NULL;

CREATE VIEW hectornb_pub.targets AS
SELECT l.name AS list_name, t.name AS target, t.ra, t.dec, t.badclass, t.classified_by,
       t.classified_at, t.n_classifiers, t.disagree
FROM target t JOIN target_list l ON l.id = t.list_id WHERE l.deleted_at IS NULL;

CREATE VIEW hectornb_pub.classifications AS
SELECT l.name AS list_name, c.target_name AS target, c.username, c.badclass, c.previous,
       c.classified_at
FROM classification c JOIN target_list l ON l.id = c.list_id
WHERE l.deleted_at IS NULL AND c.dropped_at IS NULL;

CREATE VIEW hectornb_pub.obslog_targets AS
SELECT galaxy_id, ra, dec, z, g_mag, r_mag, re, mstar, version, author, created AS modified
FROM obslog_targets WHERE superseded IS NULL AND NOT deleted;

CREATE VIEW hectornb_pub.obslog_stars AS
SELECT star_id, ra, dec, magnitude, kind, version, author, created AS modified
FROM obslog_stars WHERE superseded IS NULL AND NOT deleted;

CREATE VIEW hectornb_pub.obslog_tiles AS
SELECT tile_id, ra, dec, date AS tile_date, qc_pass, plate_id, label,
       array_to_string(members, ' ') AS members, bundles::text AS bundles, version, author,
       created AS modified
FROM obslog_tiles WHERE superseded IS NULL AND NOT deleted;

CREATE VIEW hectornb_pub.obslog_runs AS
SELECT run_id, start_date, end_date, array_to_string(observers, ' ') AS observers,
       instrument, setup, comment, version, author, created AS modified
FROM obslog_runs WHERE superseded IS NULL AND NOT deleted;

CREATE VIEW hectornb_pub.obslog_logs AS
SELECT log_id, night, time AS log_time, run_id, tile_id, array_to_string(frames, ' ') AS frames,
       exposure, seeing, transparency, weather, time_lost, lost_reason, qc, comment,
       array_to_string(tags, ' ') AS tags, version, author, created AS modified
FROM obslog_logs WHERE superseded IS NULL AND NOT deleted;
