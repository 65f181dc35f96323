-- The TAP service: TAP_SCHEMA, the tables it publishes, UWS jobs, a read-only role and the
-- ADQL translator's spherical functions (stock PostgreSQL: no pgsphere, no q3c needed).

CREATE SCHEMA IF NOT EXISTS tap_schema;

CREATE TABLE tap_schema.schemas (
    schema_name  text PRIMARY KEY,
    utype        text,
    description  text,
    schema_index integer
);

CREATE TABLE tap_schema.tables (
    schema_name  text NOT NULL REFERENCES tap_schema.schemas (schema_name) ON DELETE CASCADE,
    table_name   text PRIMARY KEY,
    table_type   text NOT NULL DEFAULT 'table',
    utype        text,
    description  text,
    table_index  integer
);

CREATE TABLE tap_schema.columns (
    table_name   text NOT NULL REFERENCES tap_schema.tables (table_name) ON DELETE CASCADE,
    column_name  text NOT NULL,
    datatype     text NOT NULL,
    arraysize    text,
    xtype        text,
    "size"       integer,
    description  text,
    utype        text,
    unit         text,
    ucd          text,
    indexed      integer NOT NULL DEFAULT 0,
    principal    integer NOT NULL DEFAULT 0,
    std          integer NOT NULL DEFAULT 0,
    column_index integer,
    PRIMARY KEY (table_name, column_name)
);

CREATE TABLE tap_schema.keys (
    key_id       text PRIMARY KEY,
    from_table   text NOT NULL REFERENCES tap_schema.tables (table_name) ON DELETE CASCADE,
    target_table text NOT NULL REFERENCES tap_schema.tables (table_name) ON DELETE CASCADE,
    description  text,
    utype        text
);

CREATE TABLE tap_schema.key_columns (
    key_id        text NOT NULL REFERENCES tap_schema.keys (key_id) ON DELETE CASCADE,
    from_column   text NOT NULL,
    target_column text NOT NULL
);

-- Where each published table lives and who may read it (not itself published).
CREATE TABLE tap_published (
    table_name  text PRIMARY KEY REFERENCES tap_schema.tables (table_name) ON DELETE CASCADE,
    pg_schema   text NOT NULL,
    pg_table    text NOT NULL,
    public      boolean NOT NULL DEFAULT true,
    owner       text,
    published_by text,
    published_at timestamptz NOT NULL DEFAULT now()
);

-- Bumped on every change of what is published: services reload their catalogue.
CREATE TABLE tap_generation (one boolean PRIMARY KEY DEFAULT true CHECK (one), n bigint NOT NULL);
INSERT INTO tap_generation VALUES (true, 1);

CREATE TABLE tap_jobs (
    job_id             text PRIMARY KEY,
    owner              text,            -- NULL: an anonymous job (public tables only)
    run_id             text,
    phase              text NOT NULL DEFAULT 'PENDING',
    parameters         jsonb NOT NULL DEFAULT '{}',
    uploads            jsonb NOT NULL DEFAULT '[]',
    creation_time      timestamptz NOT NULL DEFAULT now(),
    start_time         timestamptz,
    end_time           timestamptz,
    execution_duration integer NOT NULL,
    destruction        timestamptz NOT NULL,
    error              text,
    result_path        text,
    result_type        text,
    result_rows        bigint,
    overflow           boolean,
    runner             text,            -- the process executing it, which beats
    heartbeat          timestamptz,
    backend_pid        integer          -- its query's database backend (to cancel on abort)
);
CREATE INDEX tap_jobs_owner ON tap_jobs (owner, creation_time);
CREATE INDEX tap_jobs_phase ON tap_jobs (phase);

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hectornb_tap_reader') THEN
        BEGIN
            CREATE ROLE hectornb_tap_reader NOLOGIN NOINHERIT;
        EXCEPTION WHEN insufficient_privilege THEN
            -- a database user without CREATEROLE: an administrator creates the role (see
            -- docs/tap.md); until then queries are read-only transactions without it
            RAISE NOTICE 'cannot create role hectornb_tap_reader: %', SQLERRM;
            RETURN;
        END;
    END IF;
    BEGIN
        EXECUTE format('GRANT hectornb_tap_reader TO %I', current_user);
    EXCEPTION WHEN OTHERS THEN
        NULL;  -- a superuser may SET ROLE without membership
    END;
END
$$;

CREATE SCHEMA IF NOT EXISTS hnb_adql;

-- Great-circle distance in degrees (haversine: exact for small separations too).
CREATE FUNCTION hnb_adql.distance(ra1 float8, dec1 float8, ra2 float8, dec2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN degrees(2 * asin(least(1.0::float8, sqrt(
    power(sin(radians(dec2 - dec1) / 2), 2)
    + cos(radians(dec1)) * cos(radians(dec2)) * power(sin(radians(ra2 - ra1) / 2), 2)))));

-- Is (pra, pdec) inside the polygon v = [ra1, dec1, ra2, dec2, ...] with great-circle edges?
-- Gnomonic projection about the vertices' mean direction maps great circles to straight
-- lines, so a plane crossing test is exact (for polygons smaller than a hemisphere).
CREATE FUNCTION hnb_adql.in_polygon(pra float8, pdec float8, v float8[])
RETURNS boolean LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    n integer := array_length(v, 1) / 2;
    cx float8 := 0; cy float8 := 0; cz float8 := 0; h float8; nrm float8;
    ex float8; ey float8; ez float8; ux float8; uy float8; uz float8;
    wx float8; wy float8; wz float8; d float8;
    xs float8[]; ys float8[]; px float8; py float8;
    i integer; j integer; inside boolean := false;
BEGIN
    IF pra IS NULL OR pdec IS NULL OR n < 3 THEN
        RETURN NULL;
    END IF;
    FOR i IN 1..n LOOP
        cx := cx + cosd(v[2 * i]) * cosd(v[2 * i - 1]);
        cy := cy + cosd(v[2 * i]) * sind(v[2 * i - 1]);
        cz := cz + sind(v[2 * i]);
    END LOOP;
    nrm := sqrt(cx * cx + cy * cy + cz * cz);
    cx := cx / nrm; cy := cy / nrm; cz := cz / nrm;
    h := sqrt(cx * cx + cy * cy);
    IF h < 1e-12 THEN
        ex := 1; ey := 0; ez := 0;
    ELSE
        ex := -cy / h; ey := cx / h; ez := 0;
    END IF;
    ux := cy * ez - cz * ey; uy := cz * ex - cx * ez; uz := cx * ey - cy * ex;
    FOR i IN 1..n + 1 LOOP
        IF i <= n THEN
            wx := cosd(v[2 * i]) * cosd(v[2 * i - 1]);
            wy := cosd(v[2 * i]) * sind(v[2 * i - 1]);
            wz := sind(v[2 * i]);
        ELSE
            wx := cosd(pdec) * cosd(pra); wy := cosd(pdec) * sind(pra); wz := sind(pdec);
        END IF;
        d := wx * cx + wy * cy + wz * cz;
        IF d <= 0 THEN
            RETURN false;  -- the point is on the far side (or the polygon too large)
        END IF;
        IF i <= n THEN
            xs[i] := (wx * ex + wy * ey + wz * ez) / d;
            ys[i] := (wx * ux + wy * uy + wz * uz) / d;
        ELSE
            px := (wx * ex + wy * ey + wz * ez) / d;
            py := (wx * ux + wy * uy + wz * uz) / d;
        END IF;
    END LOOP;
    j := n;
    FOR i IN 1..n LOOP
        IF (ys[i] > py) <> (ys[j] > py)
           AND px < (xs[j] - xs[i]) * (py - ys[i]) / (ys[j] - ys[i]) + xs[i] THEN
            inside := NOT inside;
        END IF;
        j := i;
    END LOOP;
    RETURN inside;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'hectornb_tap_reader') THEN
        GRANT USAGE ON SCHEMA hnb_adql, tap_schema TO hectornb_tap_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA tap_schema TO hectornb_tap_reader;
    END IF;
END
$$;
