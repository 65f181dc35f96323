-- The observing log (Obslog): targets, stars, tiles, runs and night-log entries.
-- Every table keeps every version of every record: an edit closes the current row
-- (superseded = when) and inserts the next version; a delete is a version with
-- deleted = true, so it can be undone. Exactly one current row per record id.
CREATE TABLE obslog_observer (
    username text PRIMARY KEY,
    added    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE obslog_targets (
    uid        bigserial PRIMARY KEY,
    id         text NOT NULL,
    version    integer NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    author     text NOT NULL,
    created    timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded timestamptz,
    galaxy_id  bigint NOT NULL,
    ra         double precision NOT NULL,
    dec        double precision NOT NULL,
    z          double precision,
    g_mag      double precision,
    r_mag      double precision,
    re         double precision,
    mstar      double precision,
    meta       jsonb NOT NULL DEFAULT '{}',
    UNIQUE (id, version)
);
CREATE UNIQUE INDEX obslog_targets_current ON obslog_targets (id) WHERE superseded IS NULL;

CREATE TABLE obslog_stars (
    uid        bigserial PRIMARY KEY,
    id         text NOT NULL,
    version    integer NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    author     text NOT NULL,
    created    timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded timestamptz,
    star_id    text NOT NULL,
    ra         double precision NOT NULL,
    dec        double precision NOT NULL,
    magnitude  double precision,
    kind       text NOT NULL,
    meta       jsonb NOT NULL DEFAULT '{}',
    UNIQUE (id, version)
);
CREATE UNIQUE INDEX obslog_stars_current ON obslog_stars (id) WHERE superseded IS NULL;

CREATE TABLE obslog_tiles (
    uid        bigserial PRIMARY KEY,
    id         text NOT NULL,
    version    integer NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    author     text NOT NULL,
    created    timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded timestamptz,
    tile_id    text NOT NULL,
    ra         double precision NOT NULL,
    dec        double precision NOT NULL,
    date       date,
    qc_pass    boolean,
    plate_id   text,
    label      text,
    bundles    jsonb NOT NULL DEFAULT '{}',  -- A..U -> {"kind": "target"|"star", "id": …}
    guides     jsonb NOT NULL DEFAULT '{}',  -- GS1..GS6 -> star id
    sky        jsonb NOT NULL DEFAULT '[]',  -- sky fibre positions
    members    text[] NOT NULL DEFAULT '{}', -- every target and star id in the bundles
    meta       jsonb NOT NULL DEFAULT '{}',
    UNIQUE (id, version)
);
CREATE UNIQUE INDEX obslog_tiles_current ON obslog_tiles (id) WHERE superseded IS NULL;
CREATE INDEX obslog_tiles_members ON obslog_tiles USING gin (members) WHERE superseded IS NULL;

CREATE TABLE obslog_runs (
    uid        bigserial PRIMARY KEY,
    id         text NOT NULL,
    version    integer NOT NULL,
    deleted    boolean NOT NULL DEFAULT false,
    author     text NOT NULL,
    created    timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded timestamptz,
    run_id     text NOT NULL,
    start_date date NOT NULL,
    end_date   date NOT NULL,
    observers  text[] NOT NULL DEFAULT '{}',
    instrument text,
    setup      text,
    comment    text,
    UNIQUE (id, version)
);
CREATE UNIQUE INDEX obslog_runs_current ON obslog_runs (id) WHERE superseded IS NULL;

CREATE TABLE obslog_logs (
    uid          bigserial PRIMARY KEY,
    id           text NOT NULL,
    version      integer NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    author       text NOT NULL,
    created      timestamptz NOT NULL DEFAULT clock_timestamp(),
    superseded   timestamptz,
    log_id       text NOT NULL,
    night        date NOT NULL,
    time         timestamptz,
    run_id       text,
    tile_id      text,
    frames       text[] NOT NULL DEFAULT '{}',
    exposure     double precision,
    seeing       double precision,
    transparency text,
    weather      text,
    time_lost    double precision,
    lost_reason  text,
    qc           text,
    comment      text,
    tags         text[] NOT NULL DEFAULT '{}',
    UNIQUE (id, version)
);
CREATE UNIQUE INDEX obslog_logs_current ON obslog_logs (id) WHERE superseded IS NULL;
CREATE INDEX obslog_logs_night ON obslog_logs (night, time, id) WHERE superseded IS NULL;
CREATE INDEX obslog_logs_tile ON obslog_logs (tile_id) WHERE superseded IS NULL;
CREATE INDEX obslog_logs_run ON obslog_logs (run_id) WHERE superseded IS NULL;
CREATE INDEX obslog_logs_tags ON obslog_logs USING gin (tags) WHERE superseded IS NULL;
