"""Leases: how a runner holds rows of a work table, and how another takes them over.

Both kinds of work the platform queues, reductions (``reduce_job``) and asynchronous TAP
queries (``tap_jobs``), are claimed by a runner in some server process, which writes its name
in the row's ``runner`` and beats (``heartbeat = now()``) while it works. A row whose runner
stopped beating for ``HECTORNB_JOB_LEASE`` seconds (its server was killed, its thread died
with the database) is taken back and queued for the next runner. The tables differ in what
"held" means (a status or a UWS phase) and in how they choose the next row (see each
store), not in the lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Lease:
    """The lease columns of one work table: ``key`` names a row, ``state`` says whether a
    runner holds it (any of ``held``); the table has ``runner`` and ``heartbeat``."""

    table: str
    key: str
    state: str
    held: tuple[str, ...]

    def renew(self, conn: psycopg.Connection, runner: str, keys: Iterable[str]) -> None:
        """``runner`` is alive and working on ``keys``: renew those rows' leases, and only
        those (a row whose thread died must lapse, to be taken up again)."""
        conn.execute(
            sql.SQL(
                "UPDATE {} SET heartbeat = now() WHERE runner = %s AND {}::text = ANY(%s)"
                " AND {} = ANY(%s)"
            ).format(
                sql.Identifier(self.table), sql.Identifier(self.key), sql.Identifier(self.state)
            ),
            (runner, [str(k) for k in keys], list(self.held)),
        )

    def lapsed(self, seconds: float) -> sql.Composed:
        """The condition (for a WHERE clause) of held rows whose runner has not beaten for
        ``seconds``."""
        return sql.SQL("{} IN ({}) AND heartbeat < now() - make_interval(secs => {})").format(
            sql.Identifier(self.state),
            sql.SQL(", ").join(map(sql.Literal, self.held)),
            sql.Literal(float(seconds)),
        )


class Heartbeat:
    """When a runner's loop should beat next: four times per lease, so that one late beat
    (a busy database) never loses a lease."""

    def __init__(self, lease_seconds: float):
        self.every = lease_seconds / 4
        self._last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True
