-- Every spectrum of every reduced product, as the Virtual Observatory finds it (ObsCore,
-- SSA, DataLink): one row per program-target fibre of a reduced frame, a combined frame or
-- a spliced one, written as soon as the product is.
CREATE TABLE spectrum (
    did             text PRIMARY KEY,            -- obs_publisher_did
    product         text NOT NULL,               -- the reduced product file
    fibre           integer NOT NULL,            -- row of its fibre table, from 0
    job             uuid REFERENCES reduce_job ON DELETE SET NULL,
    task            text NOT NULL,               -- reduce_object, combine_image, splice
    owner           text NOT NULL,               -- who asked for the reduction
    aaoprgid        text NOT NULL DEFAULT '',    -- the frames' programme
    calib_level     smallint NOT NULL,
    obs_collection  text NOT NULL,
    obs_id          text NOT NULL,
    target_name     text NOT NULL,
    s_ra            double precision NOT NULL,   -- deg
    s_dec           double precision NOT NULL,   -- deg
    s_fov           double precision NOT NULL,   -- deg, the fibre's diameter
    s_resolution    double precision NOT NULL,   -- arcsec
    t_min           double precision,            -- MJD
    t_max           double precision,            -- MJD
    t_exptime       double precision,            -- s
    em_min          double precision NOT NULL,   -- m
    em_max          double precision NOT NULL,   -- m
    em_res_power    double precision,
    em_xel          bigint NOT NULL,
    facility_name   text NOT NULL,
    instrument_name text NOT NULL,
    access_estsize  bigint NOT NULL,             -- kB of the spectrum's own file
    medium          text NOT NULL DEFAULT 'air', -- wavelengths in air or vacuum
    created         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spectrum_position ON spectrum (s_dec, s_ra);
CREATE INDEX spectrum_product ON spectrum (product);
CREATE INDEX spectrum_job ON spectrum (job);

-- ObsCore 1.1 as TAP serves it. A row is the caller's to see when its programme is public,
-- when they asked for the reduction, or when they are a member of its programme; the
-- service names the caller (hectornb.user) and its own address (hectornb.base_url) for the
-- transaction. The view runs with its owner's rights: the TAP role needs none on the tables.
CREATE VIEW hectornb_pub.obscore AS
SELECT 'spectrum'::text AS dataproduct_type,
       s.calib_level::integer AS calib_level,
       s.obs_collection,
       s.obs_id,
       s.did AS obs_publisher_did,
       coalesce(current_setting('hectornb.base_url', true), '/')
           || 'hectornb/datalink/links?ID=' || replace(replace(replace(s.did, '%', '%25'),
              '?', '%3F'), '#', '%23') AS access_url,
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

-- The address of the service an asynchronous TAP job was sent to, for the links its result
-- holds (ObsCore's access_url).
ALTER TABLE tap_jobs ADD COLUMN base_url text;
