"""REST API of the Reduce service under ``/hectornb/api/reduce/``.

Every job belongs to the user the server authenticated; another user's job answers 403.
Frames are listed and reduced only where the user may (`hectornb.reduce.access`).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_server.utils import url_path_join
from tornado import web

from ..config import get_settings
from ..reduce import access
from ..reduce.engines import engine_choices
from ..reduce.options import FORM_NAMES, OPTIONS
from ..reduce.runner import ensure_runner
from ..reduce.service import DOWNLOADS, engine_problem, package, products, submit
from ..reduce.session import checked_frame_fibres
from ..reduce.store import ReductionStore
from .handlers import HectornbAPIHandler, send_file


class FramesHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self):
        args = {k: self.get_query_argument(k, "") for k in access.FILTERS}
        rows = await self.run(access.visible_frames, self.user, args)
        self.write_json({"frames": rows, "n": len(rows)})


class FrameFibresHandler(HectornbAPIHandler):
    """A raw frame's fibre table ``?path=…`` (``&targets=true``: the programme fibres)."""

    @web.authenticated
    async def get(self):
        path = self.get_query_argument("path", "")
        targets = self.get_query_argument("targets", "false").lower() in ("1", "true")
        rows = await self.run(checked_frame_fibres, self.user, path, targets)
        self.write_json({"path": path, "rows": rows})


class FramesDownloadHandler(HectornbAPIHandler):
    """The raw frames ``?path=…`` (repeated) as a zip: the grid's "Download Files"."""

    @web.authenticated
    async def get(self):
        paths = self.get_query_arguments("path")
        if not paths:
            raise web.HTTPError(422, "give the frames as ?path=…&path=…")
        refused = await self.run(access.refused, self.user, paths, None, True)
        if refused:
            raise web.HTTPError(
                403,
                f"{len(refused)} of the frames belong to programmes you "
                f"are not a member of: {Path(refused[0]).name}",
            )
        unknown = await self.run(access.unknown, paths)
        if unknown:
            raise web.HTTPError(404, f"not in the archive index: {Path(unknown[0]).name}")
        with tempfile.TemporaryDirectory(prefix="hnb-zip-", dir=_scratch()) as tmp:
            dest = Path(tmp) / "hectornb-raw-frames.zip"
            await self.run(_zip_frames, paths, dest)
            await send_file(self, dest)


def _zip_frames(paths: list[str], dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for raw in map(Path, paths):
            zf.write(raw, f"{raw.parent.parent.name}/{raw.parent.name}/{raw.name}")


class OptionsHandler(HectornbAPIHandler):
    @web.authenticated
    def get(self):
        self.write_json(
            {
                "options": [
                    {
                        "name": o.name,
                        "default": o.default,
                        "help": o.help,
                        "choices": list(o.choices),
                    }
                    for o in OPTIONS.values()
                ],
                "form_names": FORM_NAMES,
            }
        )


# Questions about the engines may wait on the Docker engine (at most DEADLINE_S each):
# threads of their own, so that a slow or hung one never holds those every other call uses
_ENGINE_CALLS = ThreadPoolExecutor(4, thread_name_prefix="hectornb-engine-calls")


async def _engine_call(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(_ENGINE_CALLS, fn, *args)


class EnginesHandler(HectornbAPIHandler):
    """The engines this platform can run now (``NAME[@VERSION]``), the default first, and
    why those it offers none of cannot run (``unavailable``: name → reason)."""

    @web.authenticated
    async def get(self):
        engines, unavailable = await _engine_call(engine_choices, get_settings())
        self.write_json({"engines": engines, "default": engines[0], "unavailable": unavailable})


def _job_json(job, base: str) -> dict:
    out = job.to_json()
    api = url_path_join(base, "hectornb/api/reduce/jobs", job.id)
    out["links"] = {
        "self": api,
        "events": api + "/events",
        **{what: f"{api}/download?what={what}" for what in DOWNLOADS},
    }
    return out


class JobsHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self):
        days = self.number_argument("days", 7, 0, 36_600, whole=False)
        jobs = await self.run(ReductionStore().list, self.user, days)
        self.write_json({"jobs": [_job_json(j, self.base_url) for j in jobs]})

    @web.authenticated
    async def post(self):
        body = self.json_body()
        allowed = {"frames", "night_from", "night_to", "options", "engine", "email"}
        extra = sorted(set(body) - allowed)
        if extra:
            raise web.HTTPError(422, f"unknown fields: {', '.join(extra)}")
        if "user" in body or "owner" in body:
            raise web.HTTPError(422, "the owner is the signed-in user")
        frames = body.get("frames")
        if frames is not None and (
            not isinstance(frames, list) or not all(isinstance(f, str) for f in frames)
        ):
            raise web.HTTPError(422, "frames must be a list of paths or file names")
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise web.HTTPError(422, "options must be an object of NAME: value")
        engine = str(body.get("engine", "builtin"))
        if problem := await _engine_call(engine_problem, engine):
            raise web.HTTPError(422, problem)
        job = await self.run(
            submit,
            self.user,
            frames,
            body.get("night_from"),
            body.get("night_to"),
            options,
            engine,
            body.get("email"),
        )
        await asyncio.to_thread(ensure_runner)
        self.write_json(_job_json(job, self.base_url), status=201)


class ReductionHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self, job_id: str):
        store = ReductionStore()
        job = await self.run(store.get, job_id, self.user)
        steps = await self.run(store.steps, job_id, self.user)
        out = _job_json(job, self.base_url)
        out["plan"] = job.plan
        out["steps"] = steps
        self.write_json(out)


class EventsHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self, job_id: str):
        after = self.number_argument("after", 0, 0, 2**62)
        events = await self.run(ReductionStore().events, job_id, self.user, after)
        self.write_json({"events": events})


class CancelHandler(HectornbAPIHandler):
    @web.authenticated
    async def post(self, job_id: str):
        job = await self.run(ReductionStore().cancel, job_id, self.user)
        self.write_json(_job_json(job, self.base_url))


class DownloadHandler(HectornbAPIHandler):
    @web.authenticated
    async def get(self, job_id: str):
        what = self.get_query_argument("what", "reduced")
        store = ReductionStore()
        job = await self.run(store.get, job_id, self.user)
        if not job.final:
            raise web.HTTPError(409, f"request {job_id} is {job.status}: products come at the end")
        steps = await self.run(store.steps, job_id, self.user)
        ticket = self.get_query_argument("ticket", "")
        with tempfile.TemporaryDirectory(prefix="hnb-zip-", dir=_scratch()) as tmp:
            dest = Path(tmp) / f"hectornb-{job.id[:8]}-{what}.zip"
            await self.run(package, job, steps, what, dest)
            if re.fullmatch(r"[a-z0-9]{1,32}", ticket):
                # the page that asked waits for this cookie: the zip is ready, the file comes
                self.set_cookie(
                    f"hnb_download_{ticket}", "1", path="/", max_age=120, samesite="Strict"
                )
            await send_file(self, dest)


class ProductsHandler(HectornbAPIHandler):
    """A request's products (object frames, combined, spliced) by name, and each one's file:
    how the Explore app in a user's server reads what the service reduced."""

    async def _products(self, job_id: str) -> dict[str, Path]:
        store = ReductionStore()
        job = await self.run(store.get, job_id, self.user)
        steps = await self.run(store.steps, job_id, self.user)
        return dict(products(job, steps))

    @web.authenticated
    async def get(self, job_id: str, name: str | None = None):
        found = await self._products(job_id)
        if name is None:
            self.write_json(
                {
                    "products": [
                        {"name": n, "bytes": p.stat().st_size}
                        for n, p in found.items()
                        if p.exists()
                    ]
                }
            )
            return
        path = found.get(name)  # only a product of the request: no path from the caller
        if path is None or not path.exists():
            raise web.HTTPError(404, f"request {job_id} has no product {name!r}")
        await send_file(self, path, media="application/fits")


def _scratch() -> Path:
    path = get_settings().home / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


_ID = r"([0-9a-fA-F-]{36})"


def reduce_handlers(u) -> list[tuple]:
    """Routes of the Reduce API; ``u`` makes a path absolute under the server's base URL."""
    return [
        (u("hectornb/api/reduce/frames"), FramesHandler),
        (u("hectornb/api/reduce/frames/download"), FramesDownloadHandler),
        (u("hectornb/api/reduce/frames/fibres"), FrameFibresHandler),
        (u("hectornb/api/reduce/options"), OptionsHandler),
        (u("hectornb/api/reduce/engines"), EnginesHandler),
        (u("hectornb/api/reduce/jobs/?"), JobsHandler),
        (u(f"hectornb/api/reduce/jobs/{_ID}"), ReductionHandler),
        (u(f"hectornb/api/reduce/jobs/{_ID}/events"), EventsHandler),
        (u(f"hectornb/api/reduce/jobs/{_ID}/cancel"), CancelHandler),
        (u(f"hectornb/api/reduce/jobs/{_ID}/download"), DownloadHandler),
        (u(f"hectornb/api/reduce/jobs/{_ID}/products/?"), ProductsHandler),
        (u(f"hectornb/api/reduce/jobs/{_ID}/products/(.+)"), ProductsHandler),
    ]


__all__ = ["reduce_handlers"]
