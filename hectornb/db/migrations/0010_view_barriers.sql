-- A view that hides rows must evaluate its own condition before any of the caller's: else
-- PostgreSQL may run a cheap condition of the query (one that fails, say a cast) on rows the
-- caller may not see, and its error tells them what those rows hold. Every view the TAP
-- service publishes is a security barrier.
ALTER VIEW hectornb_pub.target_lists SET (security_barrier = true);
ALTER VIEW hectornb_pub.targets SET (security_barrier = true);
ALTER VIEW hectornb_pub.classifications SET (security_barrier = true);
ALTER VIEW hectornb_pub.obslog_targets SET (security_barrier = true);
ALTER VIEW hectornb_pub.obslog_stars SET (security_barrier = true);
ALTER VIEW hectornb_pub.obslog_tiles SET (security_barrier = true);
ALTER VIEW hectornb_pub.obslog_runs SET (security_barrier = true);
ALTER VIEW hectornb_pub.obslog_logs SET (security_barrier = true);

-- ObsCore again, a barrier, and its access_url's ID percent-encoded whole.
CREATE OR REPLACE VIEW hectornb_pub.obscore WITH (security_barrier = true) AS
SELECT 'spectrum'::text AS dataproduct_type,
       s.calib_level::integer AS calib_level,
       s.obs_collection,
       s.obs_id,
       s.did AS obs_publisher_did,
       coalesce(current_setting('hectornb.base_url', true), '/')
           || 'hectornb/datalink/links?ID=' || replace(replace(replace(replace(replace(replace(
              replace(replace(s.did, '%', '%25'), '?', '%3F'), '#', '%23'), '+', '%2B'),
              '&', '%26'), ' ', '%20'), ':', '%3A'), '/', '%2F') AS access_url,
       'application/x-votable+xml;content=datalink'::text AS access_format,
       s.access_estsize,
       s.target_name,
       s.s_ra, s.s_dec, s.s_fov,
       format('CIRCLE ICRS %s %s %s', s.s_ra, s.s_dec, s.s_fov / 2) AS s_region,
       s.s_resolution,
       s.t_min, s.t_max, s.t_exptime,
       NULL::double precision AS t_resolution,
       s.em_min, s.em_max, s.em_res_power,
       'phot.count'::text AS o_ucd,
       NULL::text AS pol_states,
       s.facility_name, s.instrument_name,
       1::bigint AS s_xel1, 1::bigint AS s_xel2, 1::bigint AS t_xel, s.em_xel,
       0::bigint AS pol_xel,
       p.public_from::timestamp AS obs_release_date,
       'em.wl'::text AS em_ucd,
       'm'::text AS em_unit,
       s.aaoprgid AS proposal_id,
       s.created AS obs_creation_date
FROM spectrum s
LEFT JOIN programme p ON p.aaoprgid = s.aaoprgid
WHERE p.public_from <= current_date
   OR s.owner = current_setting('hectornb.user', true)
   OR s.aaoprgid IN (SELECT m.aaoprgid FROM programme_member m
                     WHERE m.username = current_setting('hectornb.user', true));
