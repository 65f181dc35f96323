"""Whether the database answers, and bringing it back when it does not.

One watchdog thread per process pings the database every second. When a ping, or a request,
finds it gone, the platform is marked *down*: from then on every database call fails at
once with `DatabaseUnavailable` (the API answers 503 naming the cause) instead of waiting
for a connection that will not come. The watchdog restarts the embedded server (an external
one is waited for), and once it answers, the pools drop their dead connections and the
platform is *up* again, with no one having to restart anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

from ..errors import Unavailable

log = logging.getLogger("hectornb.db")

PING_SECONDS = 1.0


class DatabaseUnavailable(Unavailable):
    """The database does not answer (HTTP 503); the message says why."""


class Health:
    """The database's state as this process sees it, and the watchdog that keeps it true."""

    def __init__(
        self,
        url: Callable[[], str],
        restart: Callable[[], None] | None,
        on_recovery: Callable[[], None],
    ):
        self._url = url
        self._restart = restart
        self._on_recovery = on_recovery
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.cause = ""
        self._wake = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(
            target=self._watch, name="hectornb-db-watchdog", daemon=True
        )
        self._thread.start()

    @property
    def up(self) -> bool:
        return self.down_since is None

    def check(self) -> None:
        """Raise `DatabaseUnavailable` at once while the database is down."""
        if self.down_since is not None:
            # the cause (socket paths, host names) is in the server's log, not the answer
            raise DatabaseUnavailable(
                "the database is unavailable; the platform is bringing it back (down for "
                f"{time.monotonic() - self.down_since:.0f} s), try again"
            )

    def answers(self) -> bool:
        """Whether a fresh connection can be made and used now (2 s at most)."""
        try:
            with psycopg.connect(self._url(), connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error as exc:
            self._mark_down(
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            )
            return False

    def failed(self, exc: BaseException) -> bool:
        """After ``exc`` in a database call: True (and the platform marked down) when the
        database itself is gone, False when it still answers (the error was the call's)."""
        if self.down_since is not None:
            return True
        return not self.answers()

    def _mark_down(self, cause: str) -> None:
        with self._lock:
            if self.down_since is None:
                self.down_since = time.monotonic()
                self.cause = cause
                log.error("database unavailable: %s", cause)
        self._wake.set()

    def _ping(self, conn: psycopg.Connection | None) -> psycopg.Connection | None:
        """``SELECT 1`` on the watchdog's own connection (made when needed); on failure a
        fresh connection decides whether the database is gone."""
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(self._url(), connect_timeout=2, autocommit=True)
            conn.execute("SELECT 1")
            return conn
        except psycopg.Error:
            if conn is not None:
                conn.close()
            self.answers()
            return None

    def stop(self) -> None:
        """End the watchdog (the database is being shut down on purpose)."""
        self._stopped = True
        self._wake.set()

    def _watch(self) -> None:
        conn = None
        while True:
            self._wake.wait(PING_SECONDS)
            self._wake.clear()
            if self._stopped:
                if conn is not None:
                    conn.close()
                return
            if self.down_since is None:
                conn = self._ping(conn)
                continue
            if self._restart is not None:
                try:
                    self._restart()
                except Exception as exc:  # keep trying; the next round may succeed
                    log.warning("restarting the embedded database failed: %s", exc)
            try:
                with psycopg.connect(self._url(), connect_timeout=2, autocommit=True) as conn:
                    conn.execute("SELECT 1")
            except Exception:
                continue
            try:
                self._on_recovery()
            except Exception:
                log.exception("after the database came back")
            with self._lock:
                down = time.monotonic() - (self.down_since or time.monotonic())
                self.down_since, self.cause = None, ""
            log.warning("database available again after %.1f s", down)
