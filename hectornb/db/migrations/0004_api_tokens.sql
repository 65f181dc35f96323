-- API tokens for scripts: "Authorization: token hnb_…" acts as the user who made it.
-- Only a hash is kept; the token is shown once, when it is created.
CREATE TABLE api_token (
    id         uuid PRIMARY KEY,
    username   text NOT NULL,
    name       text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created    timestamptz NOT NULL DEFAULT now(),
    last_used  timestamptz,
    revoked    timestamptz
);
CREATE INDEX api_token_user ON api_token (username, created DESC);
