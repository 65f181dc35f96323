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
import io

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from ..errors import HectornbError, Invalid, NotFound
from ..reduce.provenance import source, sources
from ..reduce.store import ReductionStore
from ..spectra import datalink, ssa
from ..spectra.index import Located, SpectrumIndex
from ..spectra.io import read_2dfdr
from ..spectra.vo import spectrum_file
from .handlers import LoggedErrors, PlatformTokens, request_user, send_file
from .tap_api import anonymous_reads

#: IDs one {links} request may ask about (DataLink lets a caller send several).
MAX_IDS = 100
_FAULTS = {
    400: "UsageFault",
    401: "AuthenticationFault",
    403: "AuthorizationFault",
    404: "NotFoundFault",
}


class VoHandler(LoggedErrors, PlatformTokens, JupyterHandler):
    """Base of the VO endpoints: the same callers as the TAP service, GET only."""

    async def prepare(self):
        await super().prepare()
        settings = SpectrumIndex().settings
        if self.current_user is None and self.request.headers.get("Authorization"):
            raise web.HTTPError(401, "the token in the Authorization header is not valid here")
        if self.current_user is None and not anonymous_reads(settings):
            raise web.HTTPError(403, "sign in to use this service")

    def write_error(self, status_code: int, **kwargs) -> None:
        """DALI's plain-text error: the fault's name, then what went wrong."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(exc, "log_message", None) or self._reason
        fault = _FAULTS.get(status_code, "ServiceFault")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{fault}: {message}\n")

    @property
    def vo_user(self) -> str | None:
        return request_user(self) if self.current_user else None

    def server_root(self) -> str:
        root = self.settings.get("base_url", "/")
        return f"{self.request.protocol}://{self.request.host}{root}"

    def one(self, name: str) -> str:
        """The parameter ``name`` (in any case), which must be given once."""
        values = [
            v
            for k, vs in self.request.query_arguments.items()
            if k.upper() == name.upper()
            for v in vs
        ]
        if len(values) != 1:
            raise web.HTTPError(400, f"{name}: give it once" if values else f"{name} is missing")
        return values[0].decode("utf-8", "replace")

    async def locate(self, did: str) -> Located:
        try:
            return await asyncio.to_thread(SpectrumIndex().locate, did, self.vo_user)
        except NotFound as exc:
            raise web.HTTPError(404, str(exc)) from None

    async def send_bytes(self, body: bytes, media: str, filename: str | None = None) -> None:
        self.set_header("Content-Type", media)
        if filename:
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(body)


def _fits_bytes(located: Located, band: tuple[float, float] | None = None) -> bytes:
    hdul = spectrum_file(read_2dfdr(located.product), located.fibre, located.did, band)
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
            for k, vs in self.request.query_arguments.items()
            if k.upper() == "ID"
            for v in vs
        ]
        if not ids:
            raise web.HTTPError(400, "ID is missing: give a spectrum's obs_publisher_did")
        if len(ids) > MAX_IDS:
            raise web.HTTPError(400, f"at most {MAX_IDS} IDs in one request")
        body = await asyncio.to_thread(self.links, ids, self.vo_user, self.server_root())
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
            rows += _links_of(found, root)
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


def _links_of(found: Located, root: str) -> list[datalink.Link]:
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
    for s in sources(job.plan if job else None, found.product, job.outdir if job else None):
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
                description="the reduction request that wrote it: its plan, steps and log "
                "(its owner's; JSON)",
                content_type="application/json",
            )
        )
    return out


class SpectrumHandler(VoHandler):
    """``#this``: one spectrum as a FITS table."""

    @allow_unauthenticated
    async def get(self):
        found = await self.locate(self.one("ID"))
        body = await asyncio.to_thread(_fits_bytes, found)
        await self.send_bytes(body, "application/fits", _file_name(found))


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
            body = await asyncio.to_thread(_fits_bytes, found, (lo, hi))
        except Invalid as exc:
            raise web.HTTPError(400, str(exc)) from None
        await self.send_bytes(body, "application/fits", _file_name(found, "-cutout"))


class FileHandler(VoHandler):
    """A file a spectrum came from, by the name its {links} give (never a path)."""

    @allow_unauthenticated
    async def get(self):
        found = await self.locate(self.one("ID"))
        name = self.one("name")
        job = None
        if found.job:
            job = await asyncio.to_thread(ReductionStore().get, found.job, None)
        wanted = source(job.plan if job else None, found.product, job.outdir if job else None, name)
        if wanted is None:
            raise web.HTTPError(404, f"{found.did} has no file {name!r}")
        if wanted.name == "pdf":
            from ..reduce.service import product_pdf

            await asyncio.to_thread(product_pdf, found.product)
        if not wanted.path.exists():
            raise web.HTTPError(404, f"{wanted.path.name} is no longer kept")
        await send_file(self, wanted.path, wanted.content_type)


class SsaHandler(VoHandler):
    """SSA 1.1 queryData; errors are SSA's VOTables (QUERY_STATUS ERROR)."""

    @allow_unauthenticated
    async def get(self):
        params = {
            k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()
        }
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
            rows, overflow = await asyncio.to_thread(
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
