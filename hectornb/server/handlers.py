"""HTTP handlers: the landing page and the REST API under ``/hectornb/api/``.

The same handlers serve ``hectornb serve`` and any Jupyter server that loads the extension.
The acting user always comes from the server's authentication (see `request_user`); no
request parameter can name another user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import psycopg
from jupyter_server.auth import User
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .. import __version__, errors, tokens
from ..config import get_settings, set_server_base_url
from ..db import DatabaseUnavailable
from ..identity import is_hub_service, process_user
from ..targets import (
    TargetFilter,
    TargetListError,
    export_csv_chunks,
    parse_target_bytes,
    target_store,
)
from ..targets.badclass import BADCLASSES
from ..widgets.registry import APPS


def request_user(handler: JupyterHandler) -> str:
    """The authenticated user of a request.

    Behind a JupyterHub (or another identity provider that knows people) that is the
    provider's user name. With jupyter_server's own token authentication the token proves
    only that the caller may use this personal server, so the user is its owner.
    """
    token_user = getattr(handler, "_api_token_user", None)
    if token_user:  # a script with one of the platform's API tokens
        return token_user
    user = handler.current_user
    provider = handler.identity_provider
    if type(provider).__module__.startswith(("jupyter_server.auth", "voila")):
        return process_user()
    return getattr(user, "username", None) or process_user()


class StoreCalls:
    """Blocking store calls off the event loop; the platform's errors (`HectornbError`)
    become their status with their message, anything else a logged 500."""

    _payload: dict | None = None  # an error's JSON beyond its message (the bad fields)

    async def run(self, fn, *args, **kwargs):
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except errors.HectornbError as exc:  # its status is on its class
            if getattr(exc, "errors", None):
                self._payload = {"error": str(exc), "errors": exc.errors}
            raise web.HTTPError(exc.status, str(exc)) from None
        except psycopg.errors.ProgramLimitExceeded as exc:  # e.g. an index row too long
            raise web.HTTPError(
                422, f"a value is too long to be stored: {exc.diag.message_primary}"
            ) from None
        except psycopg.errors.QueryCanceled:
            raise web.HTTPError(
                503,
                "the database stopped the work after the platform's time "
                "limit (HECTORNB_STATEMENT_TIMEOUT_MS); nothing of it was "
                "stored",
            ) from None
        except (psycopg.errors.DataError, OverflowError) as exc:
            # a value out of the database's range or form that no check above caught: the
            # input's fault, said as such, never a 500
            message = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
            raise web.HTTPError(422, f"a value cannot be stored: {message}") from None

    @property
    def user(self) -> str:
        return request_user(self)


async def send_file(handler, path: Path, media: str = "application/zip") -> None:
    """Stream a file to the client as a download, a megabyte at a time."""
    handler.set_header("Content-Type", media)
    handler.set_header("Content-Disposition", f'attachment; filename="{path.name}"')
    handler.set_header("Content-Length", str(path.stat().st_size))
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            handler.write(chunk)
            await handler.flush()
    handler.finish()


class LoggedErrors:
    """Unexpected exceptions logged in the platform's own log, with the traceback and the
    request's ID (tornado's log of them may have been silenced by a library)."""

    def log_exception(self, typ, value, tb):
        if isinstance(value, web.HTTPError):
            return super().log_exception(typ, value, tb)
        logging.getLogger("hectornb.access").error(
            "%s %s failed (id=%s)",
            self.request.method,
            self.request.path[:300],
            getattr(self.request, "request_id", "-"),
            exc_info=(typ, value, tb),
        )
        return None


class PlatformTokens:
    """Besides the server's own authentication, a script may send one of the platform's API
    tokens (``Authorization: token hnb_…``, see `hectornb.tokens`) and act as its user."""

    async def prepare(self):
        scheme, _, value = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() in ("token", "bearer") and value.startswith(tokens.PREFIX):
            if not self.check_host():
                raise web.HTTPError(403)
            user = await asyncio.to_thread(tokens.user_of, value.strip())
            if user is None:
                raise web.HTTPError(403, "unknown, revoked or expired API token")
            owner = None if is_hub_service() else os.environ.get("JUPYTERHUB_USER")
            if owner and user != owner:  # one Hub user's own server: its owner's tokens only
                raise web.HTTPError(403, f"this server is {owner}'s; the token is not")
            # a header a browser never sends by itself: no cross-site request to guard
            self._api_token_user = user
            self.current_user = self._jupyter_current_user = User(username=user)
            return None
        return await super().prepare()


def _json_value(value) -> str:
    """Values JSON has no type for: times in ISO 8601 (RFC 3339), anything else as text."""
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if isoformat is not None else str(value)


class HectornbAPIHandler(LoggedErrors, StoreCalls, PlatformTokens, APIHandler):
    """JSON in, JSON out; errors are JSON with a message, never a traceback."""

    def write_json(self, payload, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(payload, default=_json_value))

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        if isinstance(exc, DatabaseUnavailable):  # raised outside `run`: still a 503
            self.set_status(503)
            message = str(exc)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(self._payload or {"error": message}))

    def json_body(self) -> dict:
        """The request's JSON object; 422 for anything else (not JSON, nested deeper than
        Python can follow, not an object, or text with a NUL, which PostgreSQL cannot hold)."""
        try:
            data = json.loads(self.request.body or b"{}")
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else "not JSON"
            self._payload = {
                "error": f"the body is {reason}",
                "errors": [{"field": "", "reason": f"the body is {reason}"}],
            }
            raise web.HTTPError(422) from None
        if not isinstance(data, dict):
            self._payload = {
                "error": "the body must be a JSON object",
                "errors": [{"field": "", "reason": "must be a JSON object"}],
            }
            raise web.HTTPError(422)
        where = nul_in(data)
        if where is not None:
            self._payload = {
                "error": f"{where or 'the body'}: text may not hold a NUL character",
                "errors": [{"field": where, "reason": "NUL"}],
            }
            raise web.HTTPError(422)
        return data

    def number_argument(
        self, name: str, default: float, low: float, high: float, whole: bool = True
    ) -> float:
        """A query argument that must be a finite number within [low, high]; 422 otherwise."""
        raw = self.get_query_argument(name, "")
        try:
            value = (int(raw) if whole else float(raw)) if raw else default
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low <= value <= high:
            kind = "a whole number" if whole else "a number"
            raise web.HTTPError(422, f"{name} must be {kind} from {low:g} to {high:g}")
        return value


def nul_in(value, path: str = "") -> str | None:
    """The path of the first string (or key) holding a NUL character in a JSON value."""
    stack = [(path, value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return where
        elif isinstance(v, dict):
            for k, item in v.items():
                if "\x00" in k:
                    return where
                stack.append((f"{where}.{k}" if where else k, item))
        elif isinstance(v, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(v))
    return None


class InfoHandler(HectornbAPIHandler):
    @web.authenticated
    def get(self):
        self.write_json(
            {
                "version": __version__,
                "user": self.user,
                "badclasses": [
                    {"value": b.value, "label": b.label, "meaning": b.meaning} for b in BADCLASSES
                ],
            }
        )


_IMPORTS = [0]  # target files being read by this server now


class ListsHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self):
        infos = await self.run(target_store().lists)
        self.write_json({"lists": [info.__dict__ for info in infos]})

    @web.authenticated
    async def post(self):
        """Import a target file: the request body is the file; ``?filename=`` its name."""
        filename = self.get_query_argument("filename", "")
        if not filename:
            raise web.HTTPError(422, "give the uploaded file's name as ?filename=")
        name = self.get_query_argument("name", "") or filename.rsplit(".", 1)[0]
        overwrite = self.get_query_argument("overwrite", "false").lower() in ("1", "true")
        settings = get_settings()
        if _IMPORTS[0] >= settings.imports_at_once:  # a 64 MiB file takes ~1 GB to read
            raise web.HTTPError(
                429,
                f"{_IMPORTS[0]} target files are being imported, the most "
                "this server reads at once; try again in a minute",
            )
        _IMPORTS[0] += 1
        try:
            targets = await asyncio.to_thread(
                parse_target_bytes, self.request.body, filename, settings.max_upload_bytes
            )
            result = await self.run(target_store().import_list, targets, name, self.user, overwrite)
        except TargetListError as exc:
            self.write_json(
                {
                    "error": f"{filename} was rejected; nothing was stored",
                    "errors": [{"line": e.line, "message": e.message} for e in exc.errors],
                    "n_errors": exc.total,
                },
                status=422,
            )
            return
        finally:
            _IMPORTS[0] -= 1
        self.write_json({**result.__dict__, "summary": result.summary()}, status=201)


class ListHandler(HectornbAPIHandler):
    @web.authenticated
    async def delete(self, name: str):
        await self.run(target_store().delete_list, name, self.user)
        self.set_status(204)
        self.finish()


class TargetsHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self, name: str):
        arg = self.get_query_argument
        try:
            flt = TargetFilter.parse(
                arg("badclass", "all"), arg("name", ""), arg("regex", "false") == "true"
            )
        except errors.Invalid as exc:
            raise web.HTTPError(422, str(exc)) from None
        offset = self.number_argument("offset", 0, 0, 2**31 - 1)
        limit = self.number_argument("limit", 20, 1, 10_000)
        page = await self.run(target_store().page, name, flt, offset, limit)
        done, total = await self.run(target_store().progress, name, self.user)
        self.write_json(
            {
                "total": page.total,
                "offset": page.offset,
                "label": page.label,
                "targets": page.targets,
                "progress": {"user": self.user, "done": done, "total": total},
            }
        )


def _filter_args(handler) -> TargetFilter:
    arg = handler.get_query_argument
    try:
        return TargetFilter.parse(
            arg("badclass", "all"), arg("name", ""), arg("regex", "false") == "true"
        )
    except errors.Invalid as exc:
        raise web.HTTPError(422, str(exc)) from None


class LocateHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self, name: str):
        """Where a target is among the filtered targets (the Classify app's "jump to")."""
        target = self.get_query_argument("target", "")
        index = await self.run(target_store().locate, name, target, _filter_args(self))
        self.write_json({"target": target, "index": index})


class ProgressHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self, name: str):
        """The signed-in user's progress through a list, and the target they did last."""
        store = target_store()
        done, total = await self.run(store.progress, name, self.user)
        last = await self.run(store.last_classified, name, self.user)
        self.write_json({"user": self.user, "done": done, "total": total, "last_classified": last})


class BadclassHandler(HectornbAPIHandler):
    @web.authenticated
    async def put(self, name: str, target: str):
        value = self.json_body().get("badclass")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise web.HTTPError(422, f"badclass must be an integer 0–8 or null, not {value!r}")
        row = await self.run(target_store().classify, name, target, value, self.user)
        self.write_json(row)


class HistoryHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self, name: str, target: str):
        self.write_json({"history": await self.run(target_store().history, name, target)})


class UndoHandler(HectornbAPIHandler):
    @web.authenticated
    async def post(self, name: str):
        row = await self.run(target_store().undo, name, self.user)
        self.write_json({"undone": row})


class ExportHandler(StoreCalls, JupyterHandler):
    @web.authenticated
    async def get(self, name: str):
        per_user = self.get_query_argument("per_user", "false") == "true"
        chunks = export_csv_chunks(target_store(), name, per_user)
        first = await self.run(next, chunks)  # a missing list is a 404 before any byte
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f"attachment; filename*=UTF-8''{quote(name)}.csv")
        chunk: str | None = first
        while chunk is not None:  # written as read: a list of millions costs little memory
            self.write(chunk)
            await self.flush()
            chunk = await asyncio.to_thread(next, chunks, None)
        self.finish()


class OpenAPIHandler(HectornbAPIHandler):
    @web.authenticated
    def get(self):
        from .openapi import document

        self.write_json(document())


class TokensHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self):
        self.write_json({"tokens": await self.run(tokens.list_tokens, self.user)})

    @web.authenticated
    async def post(self):
        if getattr(self, "_api_token_user", None):
            raise web.HTTPError(403, "tokens are made when signed in, not with a token")
        name = self.json_body().get("name", "")
        self.write_json(await self.run(tokens.create, self.user, str(name)), status=201)


class TokenHandler(HectornbAPIHandler):
    @web.authenticated
    async def delete(self, token_id: str):
        await self.run(tokens.revoke, self.user, token_id)
        self.set_status(204)
        self.finish()


class LandingHandler(JupyterHandler):
    def initialize(self, apps_at: str = "voila/render") -> None:
        self.apps_at = apps_at  # where this server renders the app notebooks

    @web.authenticated
    def get(self):
        template = resources.files(__package__).joinpath("landing.html").read_text("utf-8")
        base = self.base_url
        items = "\n".join(
            f'<li><a href="{url_path_join(base, self.apps_at, app.notebook_name)}">'
            f"{app.title}</a><p>{app.summary}</p></li>"
            for app in APPS
        )
        self.finish(
            template.replace("{{apps}}", items)
            .replace("{{user}}", web.escape.xhtml_escape(request_user(self)))
            .replace("{{api}}", url_path_join(base, "hectornb/api/"))
            .replace("{{tap}}", url_path_join(base, "hectornb/tap"))
            .replace("{{ssa}}", url_path_join(base, "hectornb/ssa/"))
            .replace("{{datalink}}", url_path_join(base, "hectornb/datalink/links"))
            .replace("{{version}}", __version__)
        )


_NAME = r"([^/]+)"


def handlers(base_url: str, apps_at: str = "voila/render") -> list[tuple]:
    """Every route of the platform, relative to the server's ``base_url``; the landing page
    links the apps under ``apps_at``."""
    from .dask_proxy import dask_handlers
    from .obslog_api import obslog_handlers  # they build on this module's base handler
    from .reduce_api import reduce_handlers
    from .tap_api import tap_handlers
    from .vo_api import vo_handlers

    def u(path: str) -> str:
        return url_path_join(base_url, path)

    return [
        (u("hectornb/?"), LandingHandler, {"apps_at": apps_at}),
        (u("hectornb/api/?"), InfoHandler),
        (u("hectornb/api/openapi.json"), OpenAPIHandler),
        (u("hectornb/api/tokens/?"), TokensHandler),
        (u(f"hectornb/api/tokens/{_NAME}"), TokenHandler),
        (u("hectornb/api/targets/lists/?"), ListsHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}"), ListHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}/targets"), TargetsHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}/targets/{_NAME}/badclass"), BadclassHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}/targets/{_NAME}/history"), HistoryHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}/undo"), UndoHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}/locate"), LocateHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}/progress"), ProgressHandler),
        (u(f"hectornb/api/targets/lists/{_NAME}/export.csv"), ExportHandler),
        *reduce_handlers(u),
        *obslog_handlers(u),
        *tap_handlers(u),
        *vo_handlers(u),
        *static_handlers(base_url),
        # the reduction cluster's dashboard, for one's own server (none under the Hub)
        *([] if is_hub_service() else dask_handlers(u)),
    ]


def static_handlers(base_url: str) -> list[tuple]:
    """What the apps' pages load from the server they are on: no secret, so a user's server
    that is a client of a data centre's service serves them too."""
    set_server_base_url(base_url)  # the kernels this server starts build links under it
    hips = str(resources.files("hectornb").joinpath("data", "hips-offline"))
    plotly_js = str(resources.files("hectornb").joinpath("data", "plotly-basic"))
    aladin_lite = str(resources.files("hectornb").joinpath("data", "aladin-lite"))
    return [
        (
            url_path_join(base_url, "hectornb/hips/offline/(.*)"),
            web.StaticFileHandler,
            {"path": hips},
        ),
        # the Explore app's plots: plotly.js's basic bundle, shipped, cached by version
        (
            url_path_join(base_url, "hectornb/static/(plotly-basic\\.min\\.js)"),
            web.StaticFileHandler,
            {"path": plotly_js},
        ),
        # the sky views' Aladin Lite, shipped with the platform (no CDN offline)
        (
            url_path_join(base_url, "hectornb/static/aladin-lite/(aladin\\.js)"),
            web.StaticFileHandler,
            {"path": aladin_lite},
        ),
    ]
