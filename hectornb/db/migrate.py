"""Versioned schema migrations: ``migrations/NNNN_name.sql`` applied once each, in order.

Several processes may start at once (server, kernels, CLI); a PostgreSQL advisory lock makes
exactly one of them apply a pending migration while the others wait.
"""

from __future__ import annotations

from importlib import resources

import psycopg

_LOCK_KEY = 0x4845_4354  # "HECT"


def available() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped with the package, in order."""
    out = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name[:-4].partition("_")
            out.append((int(version), name, entry.read_text(encoding="utf-8")))
    return sorted(out)


def migrate(conn: psycopg.Connection) -> list[int]:
    """Bring the schema up to date; returns the versions applied now."""
    applied_now: list[int] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migration ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migration")}
        for version, name, sql in available():
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO schema_migration (version, name) VALUES (%s, %s)",
                    (version, name),
                )
            applied_now.append(version)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
