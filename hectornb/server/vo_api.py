"""The reduced spectra through the IVOA's protocols: DataLink, SODA and SSA.

- ``hectornb/datalink/links?ID=…``: DataLink 1.1 {links} of one or more spectra;
- ``hectornb/datalink/spectrum?ID=…``: the spectrum itself (``#this``, a FITS table);
- ``hectornb/datalink/soda?ID=…&BAND=lo hi``: SODA 1.0 sync cutout in wavelength (m);
- ``hectornb/datalink/file?ID=…&name=…``: the files a spectrum came from (its product,
  raw frames, calibrations, PDF), by the names its links give;
- ``hectornb/ssa/``: SSA 1.1 ``queryData``, with VOSI ``capabilities`` and ``availability``.

Who may see a spectrum is decided in one place (`hectornb.spectra.index`): anonymous
callers (when the TAP service lets them in) see public spectra, signed-in users also those
of their programmes and of their own reductions. A spectrum one may not see is not found.
"""

from __future__ import annotations

import asyncio
import functools
import io
import threading
from concurrent.futures import ThreadPoolExecutor

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from ..errors import HectornbError, Invalid, NotFound
from ..reduce import access
from ..reduce.provenance import sources
from ..reduce.store import ReductionStore
from ..spectra import datalink, ssa
from ..spectra.index import Located, SpectrumIndex
from ..spectra.io import read_2dfdr
from ..spectra.vo import spectrum_file
from .handlers import LoggedErrors, PlatformTokens, send_file
from .tap_api import PublicReads

_FAULTS = {
    400: "UsageFault",
    401: "AuthenticationFault",
    403: "AuthorizationFault",
    404: "NotFoundFault",
}


class _Pool:
    def __init__(self, size: int):
        self.slots = threading.BoundedSemaphore(size)
        self.threads = ThreadPoolExecutor(size, thread_name_prefix="hectornb-vo")


@functools.cache
def _pool(size: int) -> _Pool:
    return _Pool(size)


class VoHandler(PublicReads, LoggedErrors, PlatformTokens, JupyterHandler):
    """Base of the VO endpoints: the same callers as the TAP service, GET only."""

    async def prepare(self):
        await super().prepare()
        self.check_caller(SpectrumIndex().settings)

    def write_error(self, status_code: int, **kwargs) -> None:
        """DALI's plain-text error: the fault's name, then what went wrong."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None)
        # tornado doubles a message's % signs (it is a format); say it as it was written
        message = message % getattr(exc, "args", ()) if message else self._reason
        fault = _FAULTS.get(status_code, "ServiceFault")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{fault}: {message}\n")

    async def work(self, fn, *args, **kwargs):
        """Run ``fn`` on the VO services' own threads (``HECTORNB_VO_REQUESTS_AT_ONCE``),
        so that no number of slow requests for spectra holds the threads the rest of the
        server needs; beyond that many at once the caller is told to come back (503)."""
        pool = _pool(SpectrumIndex().settings.vo_requests_at_once)
        if not pool.slots.acquire(blocking=False):
            raise web.HTTPError(
                503, "the service is busy with other requests for spectra; try again shortly"
            )
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(pool.threads, lambda: fn(*args, **kwargs))
        finally:
            pool.slots.release()

    def arguments(self) -> dict[str, list[bytes]]:
        """The query string's and a form body's parameters: DALI services take both GET
        and POST (pyvo sends several IDs to DataLink by POST)."""
        merged: dict[str, list[bytes]] = {}
        for source in (self.request.query_arguments, self.request.body_arguments):
            for k, vs in source.items():
                merged.setdefault(k, []).extend(vs)
        return merged

    @property
    def vo_user(self) -> str | None:
        return self.caller

    def one(self, name: str) -> str:
        """The parameter ``name`` (in any case), which must be given once."""
        values = [v for k, vs in self.arguments().items() if k.upper() == name.upper() for v in vs]
        if len(values) != 1:
            raise web.HTTPError(400, f"{name}: give it once" if values else f"{name} is missing")
        return values[0].decode("utf-8", "replace")

    async def locate(self, did: str) -> Located:
        try:
            return await self.work(SpectrumIndex().locate, did, self.vo_user)
        except NotFound as exc:
            raise web.HTTPError(404, str(exc)) from None

    async def send_bytes(self, body: bytes, media: str, filename: str | None = None) -> None:
        self.set_header("Content-Type", media)
        if filename:
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(body)


def _fits_bytes(located: Located, band: tuple[float, float] | None = None) -> bytes:
    if not located.product.exists():
        raise NotFound(f"{located.product.name}, which holds {located.did}, is no longer kept")
    one = read_2dfdr(located.product, slice(located.fibre, located.fibre + 1))
    hdul = spectrum_file(one, 0, located.did, band)
    out = io.BytesIO()
    hdul.writeto(out)
    return out.getvalue()


def _file_name(located: Located, suffix: str = "") -> str:
    return f"{located.product.stem}-{located.fibre + 1}{suffix}.fits"


class LinksHandler(VoHandler):
    """DataLink {links}: for each ID, the spectrum, its provenance and a cutout service."""

    @allow_unauthenticated
    async def get(self):
        ids = [
            v.decode("utf-8", "replace")
            for k, vs in self.arguments().items()
            if k.upper() == "ID"
            for v in vs
        ]
        if not ids:
            raise web.HTTPError(400, "ID is missing: give a spectrum's obs_publisher_did")
        most = SpectrumIndex().settings.datalink_max_ids
        if len(ids) > most:
            raise web.HTTPError(400, f"at most {most} IDs in one request")
        body = await self.work(self.links, ids, self.vo_user, self.server_root())
        await self.send_bytes(body, datalink.CONTENT_TYPE)

    @staticmethod
    def links(ids: list[str], user: str | None, root: str) -> bytes:
        index = SpectrumIndex()
        rows, cutouts = [], []
        for k, did in enumerate(ids):
            try:
                found = index.locate(did, user)
            except HectornbError as exc:
                rows.append(datalink.Link(did, error_message=f"NotFoundFault: {exc}"))
                continue
            rows += _links_of(found, root, user)
            cutouts.append(
                datalink.Cutout(f"soda-{k}", did, found.record["em_min"], found.record["em_max"])
            )
            rows.append(
                datalink.Link(
                    did,
                    service_def=f"soda-{k}",
                    semantics="#cutout",
                    description="a cutout in wavelength (SODA BAND, metres)",
                    content_type="application/fits",
                )
            )
        return datalink.links_document(rows, cutouts, f"{root}hectornb/datalink/soda")

    @allow_unauthenticated
    async def post(self):
        await self.get()


def readable_sources(found: Located, job, user: str | None) -> list:
    """The files ``found`` came from whose contents ``user`` may read: a calibration taken
    in another programme's field carries that programme's fibre table."""
    listed = sources(job.plan if job else None, found.product, job.outdir if job else None)
    frames = sorted({f for s in listed for f in s.raw})
    hidden = set(access.refused(user or "", frames, contents=True)) if frames else set()
    return [s for s in listed if not hidden & set(s.raw)]


def _links_of(found: Located, root: str, user: str | None) -> list[datalink.Link]:
    did = found.did
    out = [
        datalink.Link(
            did,
            datalink.url(root, "hectornb/datalink/spectrum", ID=did),
            semantics="#this",
            description=f"the spectrum of {found.record['target_name']} (FITS table: "
            "wavelength in Å, flux and its 1σ uncertainty in counts)",
            content_type="application/fits",
            content_length=int(found.record["access_estsize"]) * 1000,
        )
    ]
    job = None
    if found.job:
        try:
            job = ReductionStore().get(found.job, None)
        except NotFound:  # the request was deleted; its products may stand
            job = None
    for s in readable_sources(found, job, user):
        if not s.path.exists() and s.name != "pdf":
            continue
        out.append(
            datalink.Link(
                did,
                datalink.url(root, "hectornb/datalink/file", ID=did, name=s.name),
                semantics=s.semantics,
                description=s.description,
                content_type=s.content_type,
                content_length=s.path.stat().st_size if s.path.exists() else None,
            )
        )
    if job is not None:
        out.append(
            datalink.Link(
                did,
                f"{root}hectornb/api/reduce/jobs/{job.id}",
                semantics="#documentation",
                description="the reduction request that wrote it: its engine, options and "
                "plan (its owner's; JSON)",
                content_type="application/json",
            )
        )
        out.append(
            datalink.Link(
                did,
                f"{root}hectornb/api/reduce/jobs/{job.id}/events",
                semantics="#documentation",
                description="the request's log: every step and event (its owner's; JSON)",
                content_type="application/json",
            )
        )
    return out


class SpectrumHandler(VoHandler):
    """``#this``: one spectrum as a FITS table."""

    @allow_unauthenticated
    async def get(self):
        found = await self.locate(self.one("ID"))
        try:
            body = await self.work(_fits_bytes, found)
        except NotFound as exc:
            raise web.HTTPError(404, str(exc)) from None
        await self.send_bytes(body, "application/fits", _file_name(found))

    @allow_unauthenticated
    async def post(self):
        await self.get()


class SodaHandler(VoHandler):
    """SODA sync: the spectrum within ``BAND`` (two wavelengths in metres)."""

    @allow_unauthenticated
    async def get(self):
        found = await self.locate(self.one("ID"))
        text = self.one("BAND")
        try:
            lo, hi = (float(v) for v in text.replace("/", " ").split())
        except ValueError:
            raise web.HTTPError(400, f"BAND {text!r}: two wavelengths in metres") from None
        try:
            body = await self.work(_fits_bytes, found, (lo, hi))
        except NotFound as exc:
            raise web.HTTPError(404, str(exc)) from None
        except Invalid as exc:
            raise web.HTTPError(400, str(exc)) from None
        await self.send_bytes(body, "application/fits", _file_name(found, "-cutout"))

    @allow_unauthenticated
    async def post(self):
        await self.get()


class FileHandler(VoHandler):
    """A file a spectrum came from, by the name its {links} give (never a path)."""

    @allow_unauthenticated
    async def get(self):
        found = await self.locate(self.one("ID"))
        name = self.one("name")
        job = None
        if found.job:
            job = await self.work(ReductionStore().get, found.job, None)
        readable = await self.work(readable_sources, found, job, self.vo_user)
        wanted = next((s for s in readable if s.name == name), None)
        if wanted is None:
            raise web.HTTPError(404, f"{found.did} has no file {name!r}")
        path = wanted.path
        if wanted.name == "pdf" and found.product.exists():
            from ..reduce.service import product_pdf

            path = await self.work(product_pdf, found.product)
        if not path.exists():
            raise web.HTTPError(404, f"{path.name} is no longer kept")
        await send_file(self, path, wanted.content_type)

    @allow_unauthenticated
    async def post(self):
        await self.get()


class SsaHandler(VoHandler):
    """SSA 1.1 queryData; errors are SSA's VOTables (QUERY_STATUS ERROR)."""

    @allow_unauthenticated
    async def get(self):
        params = {k: v[-1].decode("utf-8", "replace") for k, v in self.arguments().items()}
        index = SpectrumIndex()
        settings = index.settings
        try:
            query = ssa.parse_query(params, settings.ssa_maxrec, settings.ssa_hard_maxrec)
        except Invalid as exc:
            await self.send_bytes(ssa.error_document(str(exc)), "application/x-votable+xml")
            return
        root = self.server_root()
        rows, overflow = [], False
        if not (query.metadata or query.no_match or query.maxrec == 0):
            rows, overflow = await self.work(
                index.search,
                self.vo_user,
                pos=query.pos,
                size=query.size,
                band=query.band,
                time=query.time,
                maxrec=query.maxrec,
                base_url=root,
            )
        accrefs = [
            datalink.url(root, "hectornb/datalink/spectrum", ID=r["obs_publisher_did"])
            for r in rows
        ]
        body = ssa.results_document(rows, accrefs, overflow, f"{root}hectornb/datalink/links")
        await self.send_bytes(body, "application/x-votable+xml")

    @allow_unauthenticated
    async def post(self):
        await self.get()


class SsaCapabilitiesHandler(VoHandler):
    @allow_unauthenticated
    async def get(self):
        s = SpectrumIndex().settings
        body = ssa.capabilities(
            f"{self.server_root()}hectornb/ssa/", s.ssa_maxrec, s.ssa_hard_maxrec
        )
        await self.send_bytes(body, "text/xml")


class SsaAvailabilityHandler(VoHandler):
    @allow_unauthenticated
    async def get(self):
        await self.send_bytes(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<vosi:availability '
            b'xmlns:vosi="http://www.ivoa.net/xml/VOSIAvailability/v1.0">'
            b"<vosi:available>true</vosi:available></vosi:availability>",
            "text/xml",
        )


def vo_handlers(u) -> list[tuple]:
    """Routes of DataLink, SODA and SSA; ``u`` makes a path absolute under the base URL."""
    return [
        (u("hectornb/datalink/links/?"), LinksHandler),
        (u("hectornb/datalink/spectrum/?"), SpectrumHandler),
        (u("hectornb/datalink/soda/?"), SodaHandler),
        (u("hectornb/datalink/file/?"), FileHandler),
        (u("hectornb/ssa/?"), SsaHandler),
        (u("hectornb/ssa/capabilities/?"), SsaCapabilitiesHandler),
        (u("hectornb/ssa/availability/?"), SsaAvailabilityHandler),
    ]
