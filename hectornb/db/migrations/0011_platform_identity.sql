-- Which platform this database is: a random identity made once. Things the platform
-- leaves outside the database carry it (the 2dfdr-docker engine's containers are labelled
-- with it), so that two platforms sharing a Docker engine never take each other's.
CREATE TABLE platform (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    id  uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO platform DEFAULT VALUES;
