"""The TAP service over HTTP at ``/hectornb/tap/`` (TAP 1.1, UWS 1.1, VOSI, DALI).

Public tables are readable without signing in, as pyvo and TOPCAT expect; a signed-in
request (the server's own authentication or a platform API token) also sees that user's
proprietary tables and jobs. Parameter names are case-insensitive; unknown ones are ignored.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import datetime as dt
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from tornado.iostream import StreamClosedError

from ..db import DatabaseUnavailable
from ..errors import HectornbError
from ..identity import is_hub_service
from ..tap import vosi
from ..tap.examples import examples
from ..tap.publish import SCHEMA_DESCRIPTIONS, load_keys, load_schema_descriptions
from ..tap.result import error_document, resolve_format
from ..tap.service import TapError, TapService
from ..tap.stream import stream
from ..tap.uploads import UploadLimits, parse_upload_param, read_upload
from ..tap.uws import (
    FINAL_PHASES,
    JobNotFound,
    JobQuotaExceeded,
    UwsJobStore,
    UwsRunner,
)
from ..tap.uws_xml import (
    iso,
    job_document,
    job_list_document,
    parameters_document,
    results_document,
)
from .handlers import LoggedErrors, PlatformTokens, request_user

log = logging.getLogger(__name__)
_state: dict = {}
MAX_LAST = 10_000  # jobs one listing shows
_lock = threading.Lock()


class Tap(NamedTuple):
    """This process's TAP: the service, its UWS job store and the job runner."""

    service: TapService
    jobs: UwsJobStore
    runner: UwsRunner


def tap() -> Tap:
    """This process's TAP service, job store and job runner (started on first use)."""
    with _lock:
        if not _state:
            service = TapService()
            store = UwsJobStore(service)
            # TAP's own threads: a crowd of slow queries waits here, and the default pool
            # that the rest of the platform's handlers use stays free
            executor = ThreadPoolExecutor(
                service.settings.tap_sync_concurrency, thread_name_prefix="tap-sync"
            )
            _state.update(
                service=service,
                store=store,
                runner=UwsRunner(store).start(),
                executor=executor,
                clients=collections.Counter(),
            )
    return Tap(_state["service"], _state["store"], _state["runner"])


def run_sync(
    service: TapService,
    query: str,
    user: str | None,
    maxrec: int,
    sources: list[tuple[str, dict]],
    writer: str,
    base_url: str = "/",
) -> Iterator[bytes]:
    """One synchronous query from its request's parts to its answer, chunk by chunk as the
    rows are read (the first chunk comes once the query has run, so that its errors can
    still be a 400)."""
    limits = UploadLimits.from_settings(service.settings)
    uploads = [read_upload(name, source, limits) for name, source in sources]
    with service.rows(query, user, maxrec=maxrec, uploads=uploads, base_url=base_url) as rows:
        yield from stream(rows, writer, max_bytes=service.settings.tap_sync_bytes)


_END = object()


class _Gone(Exception):
    """The client went away: stop reading the result."""


def produce(chunks: asyncio.Queue, loop, gone: threading.Event, work: Iterator[bytes]):
    """Run ``work`` on a TAP thread, handing each chunk (then `_END`, or the exception) to
    the request's coroutine; waits while the client reads slower than the database."""

    def put(item) -> None:
        done = asyncio.run_coroutine_threadsafe(chunks.put(item), loop)
        while True:
            try:
                return done.result(timeout=1)
            except concurrent.futures.TimeoutError:
                if gone.is_set():
                    done.cancel()
                    raise _Gone from None

    try:
        for chunk in work:
            if gone.is_set():
                raise _Gone
            put(chunk)
        put(_END)
    except _Gone:
        pass
    except BaseException as exc:  # the coroutine answers for it
        if not gone.is_set():
            with contextlib.suppress(_Gone):
                put(exc)


def _param(header: str, key: str) -> str | None:
    m = re.search(rf'(?i)(?:^|;)\s*{key}=(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))', header)
    if m is None:
        return None
    return m.group(1).replace('\\"', '"') if m.group(1) is not None else m.group(2)


def parse_form(body: bytes, content_type: str) -> tuple[dict[str, list[bytes]], dict]:
    """(fields, files) of a POST body, form-encoded or multipart.

    Tornado 6.5's own multipart parser refuses a preamble before the first boundary, which
    RFC 2046 allows and STILTS (TOPCAT, taplint) sends, and the e-mail parser of the
    standard library mangles STILTS's boundary (``<<<---…--->>>``); hence this one."""
    fields: dict[str, list[bytes]] = {}
    files: dict[str, list[dict]] = {}
    if content_type.startswith("multipart/form-data"):
        m = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type)
        if m is None:
            raise web.HTTPError(400, "multipart/form-data without a boundary")
        delimiter = b"--" + (m.group(1) or m.group(2)).encode("latin-1")
        for part in body.split(delimiter)[1:]:  # [0] is the preamble
            if part.startswith(b"--"):  # the close delimiter: the rest is epilogue
                break
            head, sep, data = part.partition(b"\r\n\r\n")
            if not sep:
                raise web.HTTPError(400, "a multipart/form-data part has no headers")
            # the line break before the next delimiter belongs to the delimiter
            data = data[:-2] if data.endswith(b"\r\n") else data
            headers = head.decode("utf-8", "replace")
            disposition = re.search(r"(?im)^content-disposition:(.*)$", headers)
            if disposition is None:
                continue
            name = _param(disposition.group(1), "name")
            filename = _param(disposition.group(1), "filename")
            if name is None:
                continue
            if filename is not None:
                files.setdefault(name, []).append({"filename": filename, "body": data})
            else:
                fields.setdefault(name, []).append(data)
    elif content_type.startswith("application/x-www-form-urlencoded") or not content_type:
        from urllib.parse import parse_qsl

        for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
            fields.setdefault(k, []).append(v.encode())
    return fields, files


def anonymous_reads(settings) -> bool:
    """Whether callers who are not signed in may read the public tables: the service's
    ``HECTORNB_TAP_ANONYMOUS``, and never in one Hub user's own server (an anonymous
    endpoint must be the data centre's decision, not a side effect of someone's server)."""
    in_user_server = bool(os.environ.get("JUPYTERHUB_USER")) and not is_hub_service()
    return settings.tap_anonymous and not in_user_server


class PublicReads:
    """The callers of the VO services (TAP, SSA, DataLink): signed in, or anonymous where
    the platform lets anyone read (`anonymous_reads`)."""

    def check_caller(self, settings) -> None:
        if self.current_user is None and self.request.headers.get("Authorization"):
            # a caller who meant to sign in learns that it failed, rather than seeing the
            # public data only
            raise web.HTTPError(401, "the token in the Authorization header is not valid here")
        if self.current_user is None and not anonymous_reads(settings):
            raise web.HTTPError(403, "sign in to use this service")

    def check_xsrf_cookie(self):
        # Only a browser's cookie login can be forged cross-site; an anonymous request may
        # do no more than anyone can, and scripts authenticate with a header.
        if getattr(self, "_jupyter_current_user", None) is None:
            return None
        return super().check_xsrf_cookie()

    @property
    def caller(self) -> str | None:
        """The signed-in user's name, or None for an anonymous caller."""
        return request_user(self) if self.current_user else None

    def server_root(self) -> str:
        """The server's address as the caller reached it, ending in ``/``."""
        root = self.settings.get("base_url", "/")
        return f"{self.request.protocol}://{self.request.host}{root}"


@web.stream_request_body
class TapHandler(PublicReads, LoggedErrors, PlatformTokens, JupyterHandler):
    """Base of the TAP endpoints: anonymous reads allowed, errors as DALI documents."""

    _body: bytearray

    async def prepare(self):
        self._body = bytearray()
        self._parsed: tuple[dict[str, list[str]], dict] | None = None
        settings = tap().service.settings
        self._upload_limit = settings.tap_upload_limit
        await super().prepare()
        self.check_caller(settings)

    def data_received(self, chunk: bytes) -> None:
        self._body += chunk
        limit = self._upload_limit + (1 << 20)  # the uploads and the other fields
        if len(self._body) > limit:
            raise web.HTTPError(413, f"request larger than the upload limit of {limit} bytes")

    def _request(self) -> tuple[dict[str, list[str]], dict]:
        """(parameters by lower-case name from the query string and the form body, files),
        read once per request."""
        if self._parsed is None:
            fields, files = parse_form(
                bytes(self._body), self.request.headers.get("Content-Type", "")
            )
            params: dict[str, list[str]] = {}
            for source in (self.request.query_arguments, fields):
                for k, values in source.items():
                    params.setdefault(k.lower(), []).extend(
                        v.decode("utf-8", "replace") for v in values
                    )
            bad = next(
                (k for k, vs in params.items() if "\x00" in k or any("\x00" in v for v in vs)), None
            )
            if bad is not None:  # PostgreSQL cannot hold it, and no parameter needs it
                raise web.HTTPError(400, f"parameter {bad.replace(chr(0), '')!r}: a NUL character")
            self._parsed = params, files
        return self._parsed

    @property
    def tap_user(self) -> str | None:
        return self.caller

    @property
    def client(self) -> str:
        """Who counts against the per-client limit: the user, or the caller's address."""
        return f"user:{self.tap_user}" if self.current_user else f"ip:{self.request.remote_ip}"

    def params(self) -> dict[str, list[str]]:
        """Every parameter (query string and form body), by lower-case name."""
        return self._request()[0]

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.params().get(name.lower())
        return values[-1] if values else default

    def base(self) -> str:
        return f"{self.server_root()}hectornb/tap"

    def send(self, body: bytes, content_type: str, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.finish(body)

    def text(self, value: str) -> None:
        self.send(value.encode(), "text/plain; charset=utf-8")

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        if isinstance(exc, DatabaseUnavailable):
            self.set_status(503)
            message = str(exc)
        self.set_header("Content-Type", "application/x-votable+xml")
        self.finish(error_document(message))

    def uploads_from_request(self) -> list[tuple[str, dict]]:
        """(name, source) of each UPLOAD, files of the request read now."""
        out = []
        limit, total = self._upload_limit, 0
        for name, uri in parse_upload_param(self.params().get("upload", [])):
            if uri.startswith("param:"):
                part = uri[len("param:") :]
                files = self._request()[1].get(part)
                if not files:
                    raise TapError(f"UPLOAD {name}: the request has no part called {part!r}")
                data = files[0]["body"]
                total += len(data)
                if total > limit:
                    raise TapError(f"uploads larger than the limit of {limit} bytes")
                out.append((name, {"bytes": data, "uri": uri}))
            else:
                if self.current_user is None:
                    # the service fetches from inside the data centre: not for anyone
                    raise TapError(
                        f"UPLOAD {name}: sign in to upload a table by URL "
                        "(or send the table itself)"
                    )
                out.append((name, {"url": uri, "uri": uri}))
        return out


class SyncHandler(TapHandler):
    @allow_unauthenticated
    async def get(self):
        await self.run_query()

    @allow_unauthenticated
    async def post(self):
        await self.run_query()

    async def run_query(self):
        service = tap().service
        clients, limit = _state["clients"], service.settings.tap_sync_per_client
        client = self.client
        if clients[client] >= limit:
            self.send(
                error_document(
                    f"you already have {clients[client]} synchronous queries under way, the most "
                    "this service runs at once for one client; wait for one, or submit the query "
                    "asynchronously (/async)"
                ),
                "application/x-votable+xml",
                429,
            )
            return
        clients[client] += 1
        try:
            # a 20 MB multipart body is split and copied: on a TAP thread, not the event loop
            await asyncio.get_running_loop().run_in_executor(_state["executor"], self._request)
            lang = (self.param("lang") or "").upper()
            if not lang:
                raise TapError("LANG is missing: use LANG=ADQL")
            if lang not in ("ADQL", "ADQL-2.0", "ADQL-2.1"):
                raise TapError(f"LANG {lang!r} is not supported; use ADQL")
            query = self.param("query")
            if not query:
                raise TapError("QUERY is missing")
            writer, content_type = resolve_format(
                self.param("responseformat") or self.param("format")
            )
            maxrec = service.maxrec(self.param("maxrec"))
            work = run_sync(
                service,
                query,
                self.tap_user,
                maxrec,
                self.uploads_from_request(),
                writer,
                self.server_root(),
            )
            await self.stream(work, content_type)
        except DatabaseUnavailable as exc:
            self.send(error_document(str(exc)), "application/x-votable+xml", 503)
        except HectornbError as exc:  # a bad query or parameter: DALI's error document
            self.send(error_document(str(exc)), "application/x-votable+xml", 400)
        finally:
            clients[client] -= 1
            if not clients[client]:
                del clients[client]

    async def stream(self, work: Iterator[bytes], content_type: str) -> None:
        """Send what ``work`` makes on a TAP thread as it comes; an error before the first
        chunk is raised here (so it can be answered as such)."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue = asyncio.Queue(maxsize=4)
        gone = threading.Event()
        done = loop.run_in_executor(_state["executor"], produce, chunks, loop, gone, work)
        try:
            item = await chunks.get()
            if isinstance(item, BaseException):
                raise item
            self.set_status(200)
            self.set_header("Content-Type", content_type)
            while item is not _END:
                if isinstance(item, BaseException):
                    # no ending chunk: the client learns the answer is incomplete
                    log.error("TAP answer cut short: %s", item)
                    self.request.connection.close()
                    return
                self.write(item)
                await self.flush()
                item = await chunks.get()
            self.finish()
        except StreamClosedError:
            pass
        finally:
            gone.set()
            while not chunks.empty():  # frees a producer waiting to put
                chunks.get_nowait()
            await done


class CapabilitiesHandler(TapHandler):
    @allow_unauthenticated
    def get(self):
        service = tap().service
        self.send(vosi.capabilities(self.base(), service.settings), "text/xml")


class AvailabilityHandler(TapHandler):
    @allow_unauthenticated
    async def get(self):
        service = tap().service
        try:
            await asyncio.to_thread(service.tables)
            ok, note = True, "the service is accepting queries"
        except Exception as exc:  # the database is what can be down
            ok, note = False, f"the database cannot be reached: {exc}"
        self.send(vosi.availability(ok, note), "text/xml")


class TablesHandler(TapHandler):
    @allow_unauthenticated
    async def get(self, name: str | None = None):
        service = tap().service
        user = self.tap_user
        catalog = await asyncio.to_thread(service.catalog, user)
        tables = list(catalog.tables.values())
        if name:
            tables = [t for t in tables if t.name.lower() == name.lower()]
            if not tables:
                raise web.HTTPError(404, f"no table {name}")
        keys = await asyncio.to_thread(load_keys)
        self.send(
            vosi.tableset(tables, {**SCHEMA_DESCRIPTIONS, **load_schema_descriptions()}, keys),
            "text/xml",
        )


class ExamplesHandler(TapHandler):
    @allow_unauthenticated
    async def get(self):
        service = tap().service
        catalog = await asyncio.to_thread(service.catalog, None)
        names = {n.lower() for n in catalog.tables}
        self.send(vosi.examples_document(examples(names)), "application/xhtml+xml")


class RootHandler(TapHandler):
    @allow_unauthenticated
    def get(self):
        base = self.base()
        links = "".join(
            f'<li><a href="{base}/{p}">{p}</a></li>'
            for p in ("capabilities", "availability", "tables", "examples", "async")
        )
        self.send(
            f"<!DOCTYPE html><html><head><title>hectornb TAP</title></head><body>"
            f"<h1>hectornb TAP service</h1><p>TAP 1.1 at <code>{base}</code>: use "
            f"pyvo, TOPCAT or the TAP app.</p><ul>{links}</ul></body></html>".encode(),
            "text/html; charset=utf-8",
        )


# ---- asynchronous jobs (UWS) ---------------------------------------------------------------


class UWSHandler(TapHandler):
    def job_url(self, job_id: str) -> str:
        return f"{self.base()}/async/{job_id}"

    async def job(self, job_id: str):
        store = tap().jobs
        try:
            return await asyncio.to_thread(store.get, job_id, self.tap_user)
        except JobNotFound:
            raise web.HTTPError(404, f"no job {job_id}") from None

    async def change(self, fn, *args):
        runner = tap().runner
        try:
            job = await asyncio.to_thread(fn, *args)
        except JobNotFound:
            raise web.HTTPError(404, f"no job {args[0] if args else ''}") from None
        except JobQuotaExceeded as exc:
            raise web.HTTPError(429, str(exc)) from None
        except DatabaseUnavailable as exc:
            raise web.HTTPError(503, str(exc)) from None
        except HectornbError as exc:  # a change the job's phase or the query refuses
            raise web.HTTPError(400, str(exc)) from None
        runner.wake()
        return job

    async def apply(self, job_id: str) -> None:
        """The job-changing parameters of a POST, in UWS's order of precedence."""
        store = tap().jobs
        user = self.tap_user
        params = self.params()
        if (self.param("action") or "").upper() == "DELETE":
            await self.change(store.delete, job_id, user)
            self.redirect(f"{self.base()}/async", status=303)
            return
        if "destruction" in params:
            when = _parse_time(self.param("destruction"))
            await self.change(store.set_destruction, job_id, user, when)
        if "executionduration" in params:
            try:
                seconds = int(self.param("executionduration"))
            except ValueError:
                raise web.HTTPError(400, "EXECUTIONDURATION must be whole seconds") from None
            await self.change(store.set_execution_duration, job_id, user, seconds)
        phase = (self.param("phase") or "").upper()
        if phase == "RUN":
            await self.change(store.run, job_id, user)
        elif phase == "ABORT":
            await self.change(store.abort, job_id, user)
        elif phase:
            raise web.HTTPError(400, f"PHASE={phase}: use RUN or ABORT")
        self.redirect(self.job_url(job_id), status=303)


def _parse_time(value: str | None) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        raise web.HTTPError(400, f"DESTRUCTION {value!r} is not an ISO 8601 time") from None


class JobListHandler(UWSHandler):
    @allow_unauthenticated
    async def get(self):
        store = tap().jobs
        params = self.params()
        phases = [p.upper() for p in params.get("phase", [])]
        after = _parse_time(self.param("after")) if self.param("after") else None
        try:
            last = int(self.param("last")) if self.param("last") else None
        except ValueError:
            raise web.HTTPError(400, "LAST must be a whole number") from None
        if last is not None and not 0 <= last <= MAX_LAST:
            raise web.HTTPError(400, f"LAST must be between 0 and {MAX_LAST}")
        jobs = await asyncio.to_thread(store.list, self.tap_user, phases, after, last)
        self.send(job_list_document(jobs, f"{self.base()}/async"), "text/xml")

    @allow_unauthenticated
    async def post(self):
        store = tap().jobs
        params = {k: v[-1] for k, v in self.params().items() if k not in ("upload", "phase")}
        try:
            uploads = self.uploads_from_request()
        except TapError as exc:
            raise web.HTTPError(400, str(exc)) from None
        job = await self.change(
            store.create, self.tap_user, params, [], self.client, self.server_root()
        )
        if uploads:
            await asyncio.to_thread(store.attach_uploads, job.job_id, uploads)
        if (self.param("phase") or "").upper() == "RUN":
            await self.change(store.run, job.job_id, self.tap_user)
        self.redirect(self.job_url(job.job_id), status=303)


class UwsJobHandler(UWSHandler):
    @allow_unauthenticated
    async def get(self, job_id: str):
        job = await self.job(job_id)
        wait = self.param("wait")
        if wait is not None and job.phase not in FINAL_PHASES:
            try:
                seconds = float(wait)
            except ValueError:
                raise web.HTTPError(400, "WAIT must be a number of seconds") from None
            # WAIT=-1 is "as long as the service allows": short enough for pyvo, which sends
            # it and may read with a short timeout; an explicit wait may last a minute
            seconds = 10.0 if seconds < 0 else min(seconds, 60.0)
            watched = (self.param("phase") or job.phase).upper()
            deadline = time.monotonic() + seconds
            while (
                job.phase == watched
                and job.phase in ("PENDING", "QUEUED", "EXECUTING")
                and time.monotonic() < deadline
            ):
                await asyncio.sleep(0.05)
                job = await self.job(job_id)
        self.send(job_document(job, self.job_url(job_id)), "text/xml")

    @allow_unauthenticated
    async def post(self, job_id: str):
        await self.job(job_id)
        await self.apply(job_id)

    @allow_unauthenticated
    async def delete(self, job_id: str):
        store = tap().jobs
        await self.change(store.delete, job_id, self.tap_user)
        self.redirect(f"{self.base()}/async", status=303)


class JobPartHandler(UWSHandler):
    """``/async/{id}/{phase|quote|executionduration|destruction|error|parameters|results|
    owner}`` and ``…/results/result``."""

    @allow_unauthenticated
    async def get(self, job_id: str, part: str):
        job = await self.job(job_id)
        if part == "phase":
            self.text(job.phase)
        elif part == "quote":
            self.text("")
        elif part == "executionduration":
            self.text(str(job.execution_duration))
        elif part == "destruction":
            self.text(iso(job.destruction))
        elif part == "owner":
            self.text(job.owner or "")
        elif part == "error":
            if job.phase != "ERROR":
                raise web.HTTPError(404, f"job {job_id} has no error (phase {job.phase})")
            self.send(error_document(job.error or "failed"), "application/x-votable+xml")
        elif part == "parameters":
            self.send(parameters_document(job), "text/xml")
        elif part == "results":
            self.send(results_document(job, self.job_url(job_id)), "text/xml")
        elif part == "results/result":
            if job.phase != "COMPLETED" or not job.result_path:
                raise web.HTTPError(404, f"job {job_id} has no result (phase {job.phase})")
            with open(job.result_path, "rb") as f:
                body = f.read()
            self.send(body, job.result_type or "application/x-votable+xml")
        else:
            raise web.HTTPError(404)

    @allow_unauthenticated
    async def post(self, job_id: str, part: str):
        store = tap().jobs
        await self.job(job_id)
        if part == "parameters":
            params = {k: v[-1] for k, v in self.params().items()}
            await self.change(store.set_parameters, job_id, self.tap_user, params)
            self.redirect(self.job_url(job_id), status=303)
        elif part in ("phase", "executionduration", "destruction"):
            await self.apply(job_id)
        else:
            raise web.HTTPError(405)


def start_tap_runner() -> None:
    """Start this process's TAP job runner with the server (in the background), so jobs
    queued, or cut off by a restart, go on without waiting for a TAP request."""
    threading.Thread(target=tap, name="tap-start", daemon=True).start()


def stop_tap_runner() -> None:
    """Stop this process's TAP job runner (the server stopping)."""
    with _lock:
        runner = _state.get("runner")
    if runner is not None:
        runner.stop()


def tap_handlers(u) -> list[tuple]:
    job = r"([0-9a-f]{32}|[0-9a-f]{16})"  # 16: IDs made before they had 128 bits
    return [
        (u("hectornb/tap/?"), RootHandler),
        (u("hectornb/tap/sync/?"), SyncHandler),
        (u("hectornb/tap/capabilities/?"), CapabilitiesHandler),
        (u("hectornb/tap/availability/?"), AvailabilityHandler),
        (u("hectornb/tap/tables/?"), TablesHandler),
        (u("hectornb/tap/tables/([^/]+)"), TablesHandler),
        (u("hectornb/tap/examples/?"), ExamplesHandler),
        (u("hectornb/tap/async/?"), JobListHandler),
        (u(f"hectornb/tap/async/{job}/?"), UwsJobHandler),
        (u(f"hectornb/tap/async/{job}/(results/result|[a-z]+)"), JobPartHandler),
    ]
