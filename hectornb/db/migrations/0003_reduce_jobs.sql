-- Who may see which programme's frames, and the Reduce service's jobs (the system of
-- record: the Dask cluster only executes).

-- A programme's frames are proprietary to its members until public_from (NULL: never).
CREATE TABLE programme (
    aaoprgid    text PRIMARY KEY,
    public_from date,
    title       text NOT NULL DEFAULT ''
);
CREATE TABLE programme_member (
    aaoprgid text NOT NULL REFERENCES programme ON DELETE CASCADE,
    username text NOT NULL,
    PRIMARY KEY (aaoprgid, username)
);
CREATE INDEX programme_member_user ON programme_member (username);

CREATE TABLE reduce_job (
    id          uuid PRIMARY KEY,
    owner       text NOT NULL,
    created     timestamptz NOT NULL DEFAULT now(),
    status      text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'partial', 'failed',
                                  'cancelling', 'cancelled')),
    engine      text NOT NULL,
    options     jsonb NOT NULL,              -- 2dFdr option names as given (resolved)
    frames      text[] NOT NULL,             -- raw frame paths asked for
    email       text,
    -- identical requests (engine, options, frames) share one product directory and never
    -- run at the same time
    same_as     text NOT NULL,
    outdir      text NOT NULL,
    plan        jsonb,                        -- steps and calibrations chosen
    steps_total integer NOT NULL DEFAULT 0,
    steps_done  integer NOT NULL DEFAULT 0,
    current     text NOT NULL DEFAULT '',
    message     text NOT NULL DEFAULT '',
    runner      text,                         -- which server process holds it
    heartbeat   timestamptz,
    started     timestamptz,
    finished    timestamptz,
    attempts    integer NOT NULL DEFAULT 0
);
CREATE INDEX reduce_job_owner ON reduce_job (owner, created DESC);
CREATE INDEX reduce_job_queue ON reduce_job (status, created);
CREATE UNIQUE INDEX reduce_job_one_running ON reduce_job (same_as) WHERE status = 'running';

CREATE TABLE reduce_step (
    job      uuid NOT NULL REFERENCES reduce_job ON DELETE CASCADE,
    key      text NOT NULL,
    seq      integer NOT NULL,               -- plan order
    task     text NOT NULL,
    frame    text NOT NULL,
    arm      text NOT NULL DEFAULT '',
    output   text NOT NULL,
    status   text NOT NULL DEFAULT 'waiting',  -- waiting, done, failed, skipped
    reason   text NOT NULL DEFAULT '',
    seconds  double precision,
    log      text NOT NULL DEFAULT '',
    worker   text NOT NULL DEFAULT '',
    finished timestamptz,
    PRIMARY KEY (job, key)
);

CREATE TABLE reduce_event (
    job     uuid NOT NULL REFERENCES reduce_job ON DELETE CASCADE,
    seq     bigserial,
    at      timestamptz NOT NULL DEFAULT now(),
    kind    text NOT NULL,                   -- submitted, started, step, resumed, finished, ...
    message text NOT NULL,
    PRIMARY KEY (job, seq)
);
