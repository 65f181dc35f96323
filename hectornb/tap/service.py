"""Running ADQL queries: what a user may read, the read-only transaction, MAXREC.

Each query runs on the TAP connection pool in a read-only transaction as the role
``hectornb_tap_reader`` (SELECT on published tables, nothing else), with a statement timeout;
uploaded tables are loaded into temporary tables on the same connection first and dropped
afterwards. The `TableSet` of published tables is cached and reloaded when
``tap_generation`` changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg import errors as pgerrors

from ..config import Settings, get_settings
from ..db import connect
from ..db.engine import name_caller
from ..errors import Invalid
from .adql import ADQLError, translate
from .publish import (
    READER,
    catalog_for,
    ensure_tap_schema,
    generation,
    grant_reader,
    load_tables,
    reader_exists,
    reader_usable,
)
from .result import Result, ResultField
from .stream import Rows
from .tableset import TableSet, TapColumn, TapTable, quote_identifier, votable_type

log = logging.getLogger(__name__)


@dataclass
class Upload:
    """A table uploaded with a query, queried as ``TAP_UPLOAD.<name>``."""

    name: str
    columns: list[TapColumn]
    pg_types: list[str]
    copy_data: bytes
    """the rows in PostgreSQL's COPY text format"""
    nrows: int


class TapError(Invalid):
    """A query the service refuses or the database rejected, said plainly."""


def _value(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v.isoformat(timespec="milliseconds")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (dt.time, dt.timedelta)):
        return str(v)
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


class TapService:
    """The platform's TAP service, without the HTTP: catalogue, limits and query runs."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self._lock = threading.Lock()
        self._tables: list[TapTable] = []
        self._generation = -1
        ensure_tap_schema()
        with connect(self.settings, purpose="tap") as conn:
            exists = reader_exists(conn)
            self._reader = exists and reader_usable(conn)
            if self._reader:
                granted = grant_reader(conn)
                if granted:
                    log.info("role %s may now read %d published tables", READER, granted)
        if not self._reader:
            create = "" if exists else f"CREATE ROLE {READER} NOLOGIN NOINHERIT; "
            log.warning(
                "role %s is %s: TAP queries run as read-only transactions of the "
                "platform's own database user. A database administrator runs: "
                '%sGRANT %s TO "%s"; then restarts the platform (docs/deploy.md)',
                READER,
                "not granted to this database user" if exists else "missing",
                create,
                READER,
                self._database_user(),
            )

    def _database_user(self) -> str:
        with connect(self.settings, purpose="tap") as conn:
            return conn.execute("SELECT current_user").fetchone()[0]

    def tables(self, conn: psycopg.Connection | None = None) -> list[TapTable]:
        """Every published table (reloaded when something was published or withdrawn)."""
        if conn is None:
            with connect(self.settings, purpose="tap") as c:
                return self.tables(c)
        gen = generation(conn)
        with self._lock:
            if gen == self._generation:
                return self._tables
        tables = load_tables(conn)
        with self._lock:
            self._tables, self._generation = tables, gen
        return tables

    def catalog(self, user: str | None, conn: psycopg.Connection | None = None) -> TableSet:
        """What ``user`` (None: anonymous) may query."""
        return catalog_for(self.tables(conn), user)

    def maxrec(self, requested: str | int | None) -> int:
        """The row limit of a query: MAXREC if given (capped at the hard limit), else the
        default."""
        if requested in (None, ""):
            return self.settings.tap_maxrec
        try:
            n = int(requested)  # type: ignore[arg-type]
        except ValueError:
            raise TapError(f"MAXREC must be a whole number, not {requested!r}") from None
        if n < 0:
            raise TapError("MAXREC cannot be negative")
        return min(n, self.settings.tap_hard_maxrec)

    def query(
        self,
        adql: str,
        user: str | None,
        *,
        maxrec: int | None = None,
        uploads: list[Upload] = (),
        timeout: int | None = None,
        on_connection=None,
        base_url: str = "/",
    ) -> Result:
        """Run ``adql`` for ``user``; the result holds at most ``maxrec`` rows (overflow
        set when there were more), all in memory: for a long result use `rows`. Raises
        `ADQLError` or `TapError`."""
        with self.rows(
            adql,
            user,
            maxrec=maxrec,
            uploads=uploads,
            timeout=timeout,
            on_connection=on_connection,
            base_url=base_url,
        ) as out:
            rows = [row for batch in out.batches for row in batch]
        return Result(out.fields, rows, out.overflow, out.infos)

    @contextlib.contextmanager
    def rows(
        self,
        adql: str,
        user: str | None,
        *,
        maxrec: int | None = None,
        uploads: list[Upload] = (),
        timeout: int | None = None,
        on_connection=None,
        base_url: str = "/",
    ) -> Iterator[Rows]:
        """Run ``adql`` for ``user`` and give its rows as they are read, in batches from a
        server-side cursor (memory stays flat however many MAXREC allows), inside this
        context. ``base_url`` is the service's address as the caller reached it (ObsCore's
        links point there). ``timeout`` bounds each step of the database's work, s;
        reading the whole result may take ten times as long (a slow client). Raises `ADQLError` or
        `TapError`, while starting or while the batches are read."""
        if not adql or not adql.strip():
            raise TapError("QUERY is empty")
        maxrec = self.settings.tap_maxrec if maxrec is None else maxrec
        timeout = timeout or self.settings.tap_sync_timeout
        started = time.time()
        with connect(self.settings, purpose="tap") as conn:
            if on_connection is not None:  # an async job notes its backend, to cancel it
                on_connection(conn.info.backend_pid)
            catalog = self.catalog(user, conn)
            conn.commit()
            if uploads:
                catalog = self._load_uploads(conn, catalog, uploads)
            try:
                tr = translate(adql, catalog, maxrec)
                conn.execute("SET TRANSACTION READ ONLY")
                # the ObsCore view shows this caller's rows and links to this address
                name_caller(conn, user, base_url)
                if self._reader:
                    conn.execute(f"SET LOCAL ROLE {READER}")
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout)}s",)
                )
                if conn.info.server_version >= 140000:
                    # a query whose caller is gone (a killed server, a closed job) stops
                    # within seconds instead of computing on for up to its time limit
                    conn.execute("SET LOCAL client_connection_check_interval = '5s'")
                cur = conn.cursor(name="hnb_tap_result")
                with _query_errors(adql, timeout):
                    cur.execute(tr.sql)
                description = cur.description or []
                out = Rows([self._field(d, tr) for d in description], iter(()), {"QUERY": adql})
                out.batches = _batches(
                    cur, out, description, maxrec, tr.top, adql, timeout, started
                )
                yield out
            finally:
                with contextlib.suppress(psycopg.Error):
                    conn.rollback()  # the cursor with it
                if uploads:
                    conn.execute("DISCARD TEMP")
                    conn.commit()

    @staticmethod
    def _field(d, tr) -> ResultField:
        datatype, arraysize, xtype = votable_type(d.type_code)
        meta = tr.columns.get(d.name)
        xtype = tr.xtypes.get(d.name, xtype)
        if xtype in ("point", "circle", "polygon"):
            arraysize = {"point": "2", "circle": "3", "polygon": "*"}[xtype]
        if meta is not None and meta.datatype == datatype and meta.arraysize:
            arraysize = meta.arraysize
        return ResultField(
            d.name,
            datatype,
            arraysize,
            xtype or (meta.xtype if meta else None),
            meta.unit if meta else None,
            meta.ucd if meta else None,
            meta.utype if meta else None,
            meta.description if meta else None,
        )

    def _load_uploads(
        self, conn: psycopg.Connection, catalog: TableSet, uploads: list[Upload]
    ) -> TableSet:
        tables = list(catalog.tables.values())
        for up in uploads:
            pg_name = f"tap_upload_{up.name.lower()}"
            cols = ", ".join(
                f"{quote_identifier(c.name)} {t}"
                for c, t in zip(up.columns, up.pg_types, strict=True)
            )
            names = ", ".join(quote_identifier(c.name) for c in up.columns)
            conn.execute(f"CREATE TEMP TABLE {quote_identifier(pg_name)} ({cols})")
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY pg_temp.{quote_identifier(pg_name)} ({names}) FROM STDIN") as cp,
            ):
                view = memoryview(up.copy_data)
                for k in range(0, len(view), 1 << 20):
                    cp.write(view[k : k + (1 << 20)])
            if self._reader:
                conn.execute(f"GRANT SELECT ON pg_temp.{quote_identifier(pg_name)} TO {READER}")
            conn.execute(f"ANALYZE pg_temp.{quote_identifier(pg_name)}")
            tables.append(
                TapTable(f"TAP_UPLOAD.{up.name}", "TAP_UPLOAD", "pg_temp", pg_name, up.columns)
            )
        conn.commit()
        return TableSet(tables)


BATCH = 5000  # rows fetched from the cursor at a time


@contextlib.contextmanager
def _query_errors(adql: str, timeout: int):
    """A query's own failures as `TapError`; a broken connection is left to `connect`."""
    try:
        yield
    except pgerrors.QueryCanceled:
        raise TapError(
            f"the query ran longer than {timeout} s and was stopped; "
            "narrow it, or run it asynchronously"
        ) from None
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        raise TapError(_database_message(exc, adql)) from None


def _batches(
    cur,
    out: Rows,
    description,
    maxrec: int,
    top: int | None,
    adql: str,
    timeout: int,
    started: float,
) -> Iterator[list[tuple]]:
    """The rows of ``cur`` in batches, converted, at most ``maxrec``; ``out.overflow`` and
    ``out.nrows`` set on the way (the translation asked for one row more than MAXREC)."""
    converters = [
        k
        for k, d in enumerate(description)
        if d.type_code not in (16, 20, 21, 23, 700, 701, 25, 1043)
    ]
    while True:
        with _query_errors(adql, timeout):
            batch = cur.fetchmany(BATCH)
        out.infos.setdefault("ELAPSED", f"{time.time() - started:.3f}")
        if out.nrows + len(batch) > maxrec:
            batch = batch[: maxrec - out.nrows]
            out.overflow = True
        if converters:
            batch = [
                tuple(_value(v) if k in converters else v for k, v in enumerate(r)) for r in batch
            ]
        out.nrows += len(batch)
        if batch:
            yield batch
        if out.overflow or len(batch) < BATCH:
            break
        if time.time() - started > 10 * timeout:
            raise TapError(
                f"reading the result took longer than {10 * timeout} s and was "
                "stopped; run the query asynchronously"
            )
    if maxrec == 0:
        out.overflow = True
    if top is not None and top <= maxrec:
        out.overflow = False


def _database_message(exc: psycopg.Error, adql: str) -> str:
    """PostgreSQL's complaint in ADQL terms, with the place in the query where possible."""
    diag = exc.diag
    message = diag.message_primary or str(exc).splitlines()[0]
    if isinstance(exc, pgerrors.InsufficientPrivilege | pgerrors.ReadOnlySqlTransaction):
        return "the query tried to change or read what it may not; TAP is read-only"
    if isinstance(exc, pgerrors.UndefinedColumn):
        name = message.split('"')[1] if '"' in message else ""
        where = _locate(adql, name.split(".")[-1])
        return f"unknown column {name!r}{where}"
    if isinstance(exc, pgerrors.DivisionByZero):
        return "division by zero"
    hint = f" ({diag.message_hint})" if diag.message_hint else ""
    return message.replace("hnb_adql.", "") + hint


def _locate(adql: str, name: str) -> str:
    low = adql.lower()
    k = low.find(name.lower()) if name else -1
    if k < 0:
        return ""
    line = adql.count("\n", 0, k) + 1
    column = k - (adql.rfind("\n", 0, k) + 1) + 1
    return f" (line {line}, column {column})"


__all__ = ["ADQLError", "TapError", "TapService", "Upload"]
