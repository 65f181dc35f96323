-- The archive index: one row per raw frame, from its headers (the Reduce app's input).
CREATE TABLE raw_frame (
    path       text PRIMARY KEY,          -- as indexed (absolute)
    file       text NOT NULL,             -- DDmmmCNNNN.fits
    night      text NOT NULL,             -- yymmdd directory of the night
    ccd        smallint NOT NULL,
    arm        text NOT NULL,
    ndfclass   text NOT NULL,
    object     text NOT NULL,
    exposed    double precision NOT NULL, -- s
    utmjd      double precision,
    epoch      double precision,          -- decimal year; "nearest in time" uses it
    run        integer,
    instrument text NOT NULL,
    grating    text NOT NULL,
    setup      text NOT NULL,             -- grating/grating angle/camera angle
    lambdcr    double precision,          -- Angstrom
    plate      smallint,
    cfg_file   text,
    field_id   text,                      -- night + configuration file
    lamp       text,
    meanra     double precision,          -- deg
    meandec    double precision,          -- deg
    aaoprgid   text,
    indexed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX raw_frame_night ON raw_frame (night, ndfclass);
CREATE INDEX raw_frame_programme ON raw_frame (aaoprgid, night);
