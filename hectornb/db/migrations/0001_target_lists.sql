-- Target lists and their BADCLASS classifications (the Classify app).
CREATE TABLE target_list (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL,
    owner           text NOT NULL,
    source_filename text,
    n_targets       integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    replaced_at     timestamptz,            -- last overwrite
    deleted_at      timestamptz,            -- soft delete: classifications stay recoverable
    deleted_by      text
);
-- One live list per name; deleted lists keep their rows.
CREATE UNIQUE INDEX target_list_live_name ON target_list (name) WHERE deleted_at IS NULL;

-- No foreign key to target_list: its per-row trigger costs 0.36 s per 100,000-row import
-- (measured), and only the store writes targets, inside the transaction that holds the
-- list row; lists are soft-deleted, so no cascade is needed.
CREATE TABLE target (
    list_id        bigint NOT NULL,
    seq            integer NOT NULL,        -- position in the file, from 0
    name           text NOT NULL,
    ra             double precision NOT NULL CHECK (ra >= 0 AND ra < 360),    -- deg, J2000
    dec            double precision NOT NULL CHECK (dec >= -90 AND dec <= 90), -- deg, J2000
    line           integer NOT NULL,        -- line number in the imported file
    -- current state, derived from user_classification in the same transaction
    badclass       smallint CHECK (badclass BETWEEN 0 AND 8),
    classified_by  text,
    classified_at  timestamptz,
    n_classifiers  smallint NOT NULL DEFAULT 0,
    disagree       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (list_id, seq),
    UNIQUE (list_id, name)
);
CREATE INDEX target_by_class ON target (list_id, badclass, seq);
CREATE INDEX target_disagree ON target (list_id, seq) WHERE disagree;

-- Append-only history: every classification, every undo, never updated except dropped_at.
CREATE TABLE classification (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    list_id       bigint NOT NULL REFERENCES target_list (id) ON DELETE CASCADE,
    target_name   text NOT NULL,
    username      text NOT NULL,
    badclass      smallint CHECK (badclass BETWEEN 0 AND 8),  -- NULL: cleared
    previous      smallint,                 -- this user's class before
    undoes        bigint REFERENCES classification (id),
    classified_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    dropped_at    timestamptz               -- an overwrite removed the target; row kept
);
CREATE INDEX classification_target ON classification (list_id, target_name, username, id);
CREATE INDEX classification_user ON classification (list_id, username, id);
CREATE UNIQUE INDEX classification_undone ON classification (undoes) WHERE undoes IS NOT NULL;

-- Latest effective class per (target, user).
CREATE TABLE user_classification (
    list_id       bigint NOT NULL REFERENCES target_list (id) ON DELETE CASCADE,
    target_name   text NOT NULL,
    username      text NOT NULL,
    badclass      smallint NOT NULL CHECK (badclass BETWEEN 0 AND 8),
    classified_at timestamptz NOT NULL,
    PRIMARY KEY (list_id, target_name, username)
);
CREATE INDEX user_classification_user ON user_classification (list_id, username);
