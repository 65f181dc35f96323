"""The Explore app: a 2dF/Hector spectrum explorer for reduced products.

Choose a product (a reduction request's, the shipped examples, a file you upload, or, from
Python, any file or folder), see the field with every fibre coloured by type, click a fibre
(or step through them from the keyboard) and its spectrum is drawn with plotly: flux with
its variance band, sky and spectra before sky subtraction (RWSS) when the product has them,
smoothing, and the strong galaxy lines marked at a redshift you set.

The kernel keeps the product and sends one fibre's arrays at a time as binary buffers
(float32), so a click costs one round trip of ~30 kB whatever the size of the file.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t
from astropy import units as u
from astropy.coordinates import SkyCoord

from ..errors import HectornbError, Invalid, NotFound, quote_field
from ..identity import process_user
from ..reduce.service import product_pdf
from ..reduce.session import LocalReduce, RemoteReduce, reduce_session
from ..spectra.io import ReducedFrame, read_2dfdr
from ..spectra.lines import rest_wavelengths
from ..spectra.pdf import TYPE_COLOURS, TYPES, spectra_pdf
from ..spectra.products import EXAMPLES, find_products, is_product
from ._esm import esm
from ._page_request import when_page_requested
from ._times import request_time

_HERE = Path(__file__).parent
log = logging.getLogger(__name__)
#: What a user's action can fail with, said on the page (anything else is a bug, and raises).
_USER_ERRORS = (HectornbError,)
#: The largest file the page may upload into the kernel.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def field_offsets(frame: ReducedFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each fibre's offset from the field centre on the sky (arcmin): east and north, in
    the tangent plane, so the field looks as it does on the sky (east to the left)."""
    fibres = frame.fibres
    if "RA" not in fibres.colnames or "DEC" not in fibres.colnames:
        return np.zeros(len(fibres)), np.zeros(len(fibres))
    ra = u.Quantity(fibres["RA"], u.deg)
    dec = u.Quantity(fibres["DEC"], u.deg)
    good = np.isfinite(ra) & np.isfinite(dec) & ~((ra == 0) & (dec == 0))
    centre = frame.field()["centre"]
    if centre is None:
        if not good.any():
            return np.zeros(len(fibres)), np.zeros(len(fibres))
        centre = SkyCoord(np.median(ra[good]), np.median(dec[good]))
    offsets = SkyCoord(ra, dec).transform_to(centre.skyoffset_frame())
    east = offsets.lon.to_value(u.arcmin)
    north = offsets.lat.to_value(u.arcmin)
    east[~good], north[~good] = np.nan, np.nan  # parked fibres with no position
    return east, north


def _column(fibres, name: str, default, kind=str, digits: int = 3) -> list:
    if name not in fibres.colnames:
        return [default] * len(fibres)
    values = np.asarray(getattr(fibres[name], "value", fibres[name]))
    if kind is float:
        return [round(float(v), digits) if np.isfinite(v) else None for v in values.astype(float)]
    return [kind(v) for v in values]


def fibre_columns(frame: ReducedFrame) -> dict[str, list]:
    """The fibre table as the page needs it, column by column (JSON-ready): offsets on the
    field in arcmin, RA/Dec in degrees and sexagesimal."""
    fibres = frame.fibres
    n = len(fibres)
    east, north = field_offsets(frame)
    position = [""] * n
    if "RA" in fibres.colnames and "DEC" in fibres.colnames:
        coords = SkyCoord(u.Quantity(fibres["RA"], u.deg), u.Quantity(fibres["DEC"], u.deg))
        placed = np.isfinite(east)
        text = coords[placed].to_string("hmsdms", sep=":", precision=2)
        for k, i in enumerate(np.flatnonzero(placed)):
            position[i] = text[k]
    return {
        "name": _column(fibres, "NAME", ""),
        "type": _column(fibres, "TYPE", "P"),
        "east": [round(float(v), 4) if np.isfinite(v) else None for v in east],
        "north": [round(float(v), 4) if np.isfinite(v) else None for v in north],
        "ra": _column(fibres, "RA", None, float, digits=7),
        "dec": _column(fibres, "DEC", None, float, digits=7),
        "position": position,
        "magnitude": _column(fibres, "MAGNITUDE", None, float),
        "comment": _column(fibres, "COMMENT", ""),
        "pivot": _column(fibres, "PIVOT", None, int)
        if "PIVOT" in fibres.colnames
        else list(range(1, n + 1)),
        "bundle": _column(fibres, "PROBENAME", ""),
        "probe": _column(fibres, "PROBENUM", "", str),
    }


def summary(frame: ReducedFrame, label: str) -> dict:
    """The product's summary line: field name and centre (sexagesimal), exposure, date."""
    f = frame.field()
    centre = f["centre"]
    return {
        "product": label,
        "field": f["name"],
        "centre": centre.to_string("hmsdms", sep=":", precision=1) if centre else "",
        "exposure": None if f["exposure"] is None else float(f["exposure"].to_value(u.s)),
        "date": f["date"],
        "grating": f["grating"],
        "medium": frame.medium,
        "n_fibres": frame.n_fibres,
        "n_pixels": int(frame.flux.shape[1]),
        "has_sky": frame.sky is not None,
        "has_rwss": frame.rwss is not None,
        "has_variance": frame.variance is not None,
        "instrument": str(frame.header.get("INSTRUME", "")),
    }


#: The plotly.js the platform serves for the spectra (``hectornb/data/plotly-basic``): the
#: basic bundle, 1.2 MB where the full one is 4.8 MB, parsed in a quarter of the time.
PLOTLY_VERSION = "4.1.1"


class SpectrumExplorer(anywidget.AnyWidget):
    """The spectrum explorer, in JupyterLab or as the Explore app's page.

    Parameters
    ----------
    path : str or Path, optional
        A product file, or a folder whose products are offered (searched recursively).
    job : str, optional
        A reduction request of the signed-in user whose products are offered.
    fibre : int, optional
        The fibre (from 1, as 2dfdr numbers them) shown first.
    """

    _esm = esm("explore")
    _css = _HERE / "explore.css"

    user = t.Unicode("").tag(sync=True)
    #: Products on offer: {"key", "label", "group"}; ``key`` is what ``product`` holds.
    choices = t.List().tag(sync=True)
    product = t.Unicode("").tag(sync=True)
    summary = t.Dict().tag(sync=True)
    fibres = t.Dict().tag(sync=True)
    lines = t.List().tag(sync=True)
    types = t.Dict(TYPES).tag(sync=True)
    #: each fibre type's colour, as the sky view draws it too
    type_colours = t.Dict(TYPE_COLOURS).tag(sync=True)
    #: Index (from 0) of the fibre shown; the page changes it, Python may too.
    fibre = t.Int(0).tag(sync=True)
    #: "Show Labels": fibre names (Hector: hexabundles) on the field and the sky view.
    show_labels = t.Bool(False).tag(sync=True)
    message = t.Dict().tag(sync=True)
    ready = t.Bool(False).tag(sync=True)
    #: Set by the page once plotly.js is loaded: heavier views (Aladin Lite) start after it.
    page_ready = t.Bool(False).tag(sync=True)
    #: The plotly.js the platform serves (``hectornb/static/plotly-basic.min.js``), for caching.
    plotly_version = t.Unicode(PLOTLY_VERSION).tag(sync=True)

    def __init__(
        self,
        path: str | Path | None = None,
        job: str = "",
        fibre: int = 1,
        session: LocalReduce | RemoteReduce | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._user = process_user()
        self.session = session or reduce_session(self._user)
        # a product's file, or (for a request's products) what the session resolves to one
        self._paths: dict[str, Path | object] = {}
        self._frame: ReducedFrame | None = None
        self._uploads = Path(tempfile.mkdtemp(prefix="hectornb-explore-"))
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._opened_query: dict | None = None
        self.user = self._user
        self._first_fibre = max(int(fibre) - 1, 0)
        if path is not None:
            self.offer_path(path)
        if job:
            self.offer_job(job)
        self.offer_examples()
        self.observe(self._on_product, names="product")
        self.on_msg(self._on_message)
        if path is not None or job:
            first = next((c["key"] for c in self.choices if c["group"] != "Examples"), "")
            self.product = first

    # ---- what can be opened ----------------------------------------------------------------

    def _offer(self, group: str, items: list[tuple[str, Path | object]]) -> None:
        keep = [c for c in self.choices if c["group"] != group]
        new = []
        for label, path in items:
            key = f"{group}:{label}"
            self._paths[key] = path
            new.append({"key": key, "label": label, "group": group})
        # the shipped examples stay at the end of the list, after the user's own products
        self.choices = sorted(keep + new, key=lambda c: c["group"] == "Examples")

    def offer_path(self, path: str | Path) -> None:
        """Offer a product file, or every product in a folder."""
        path = Path(path).expanduser()
        if path.is_dir():
            found = find_products(path)
            if not found:
                raise Invalid(f"no reduced products (FITS with VARIANCE and FIBRES) in {path}")
            self._offer(str(path), found)
        elif path.is_file():
            self._offer(str(path.parent), [(path.name, path)])
        else:
            raise NotFound(f"{path}: no such file or folder")

    def open_spectrum(self, ref: str) -> None:
        """Open the spectrum a publisher DID names (``ivo://…/spectra?…``), or a DataLink
        URL whose ``ID`` is one: its product, at its fibre. One the user may not see is
        not found."""
        did = spectrum_did(ref)
        path, fibre = self.session.spectrum_product(did)
        label = f"{Path(path).name} (fibre {fibre + 1})"
        self._offer(_SPECTRA, [(label, Path(path))])
        self._first_fibre = fibre
        key = f"{_SPECTRA}:{label}"
        if self.product == key:  # already open: show the fibre
            self.show(fibre)
        else:
            self.product = key

    def offer_job(self, job_id: str) -> None:
        """Offer the products of the user's reduction request ``job_id``."""
        job = self.session.job(job_id)  # NotFound/Forbidden: not this user's
        found = self.session.products(job_id)
        if not found:
            raise Invalid(f"request {job_id} has no products yet ({job.status})")
        self._offer(f"Request {job_id}", found)

    def offer_examples(self) -> None:
        """Offer the real 2dfdr products shipped with the platform."""
        self._offer("Examples", find_products(EXAMPLES))

    def recent_requests(self) -> list[dict]:
        """The user's finished requests of the last 7 days that have products."""
        return [
            {
                "id": j.id,
                "created": request_time(j.created),
                "status": j.status,
                "n_frames": len(j.frames),
            }
            for j in self.session.jobs()
            if j.status in ("done", "partial")
        ]

    # ---- opening a product -----------------------------------------------------------------

    def _on_product(self, change) -> None:
        key = change["new"]
        if not key:
            return
        ref = self._paths.get(key)
        if ref is None:
            self._say(f"unknown product {key!r}", "error")
            return
        try:
            path = self._local(key)
            frame = read_2dfdr(path)
        except (OSError, HectornbError) as exc:  # a file gone, or not a reduced product
            label = next((c["label"] for c in self.choices if c["key"] == key), key)
            self._say(f"{label} cannot be read: {exc}", "error")
            return
        label = next((c["label"] for c in self.choices if c["key"] == key), path.name)
        with self._lock:
            self._frame = frame
        first = min(self._first_fibre, frame.n_fibres - 1)
        self._first_fibre = 0
        with self.hold_sync():
            self.summary = summary(frame, label)
            self.fibres = fibre_columns(frame)
            self.lines = rest_wavelengths(frame.medium)
            self.fibre = first
        # the first spectrum goes out with the product, without waiting for the page to ask
        self.send_spectrum(first)
        plural = "" if frame.n_fibres == 1 else "s"
        self._say(f"{label}: {frame.n_fibres} fibre{plural}", "ok")

    def _local(self, key: str) -> Path:
        """The file of an offered product (a request's is fetched from the data centre's
        service when this server is its client)."""
        ref = self._paths[key]
        if key.startswith("Request "):
            return self.session.local_path(ref)
        return Path(ref)

    @property
    def frame(self) -> ReducedFrame | None:
        """The product open now."""
        return self._frame

    def show(self, i: int) -> None:
        """Show fibre ``i`` (from 0): select it on the field and draw its spectrum."""
        if self._frame is None or not 0 <= i < self._frame.n_fibres:
            raise Invalid(f"fibre {i + 1} is not in this product")
        self.fibre = i
        self.send_spectrum(i)

    def send_spectrum(self, i: int) -> None:
        """Send fibre ``i``'s wavelength, flux, variance, sky and RWSS to the page."""
        frame = self._frame
        if frame is None or not 0 <= i < frame.n_fibres:
            return
        arrays = {"wave": np.asarray(frame.fibre_wavelength(i).value), "flux": frame.flux[i]}
        if frame.variance is not None:
            arrays["variance"] = frame.variance[i]
        if frame.sky is not None:
            sky = frame.sky if frame.sky.ndim == 1 else frame.sky[min(i, len(frame.sky) - 1)]
            arrays["sky"] = sky
        if frame.rwss is not None:
            arrays["rwss"] = frame.rwss[i]
        names = list(arrays)
        buffers = [np.ascontiguousarray(a, dtype=np.float32).tobytes() for a in arrays.values()]
        self.send(
            {"type": "spectrum", "fibre": i, "product": self.product, "arrays": names}, buffers
        )

    def pdf(self) -> Path:
        """A PDF of every spectrum of the open product (kept beside a request's product)."""
        key = self.product
        path = self._local(key)
        if key.startswith("Request ") and isinstance(self.session, LocalReduce):
            return product_pdf(path)
        out = self._uploads / f"{path.stem}.pdf"
        return spectra_pdf(path, out, title=path.name)

    def open_from_query(self, params: dict) -> None:
        """Open what the page's address asks for (``?job=…&product=…&fibre=…``): the product
        whose name ends with ``product`` (of request ``job`` if given; the first if no
        name), at the fibre (from 1); or ``?spectrum=`` a publisher DID or DataLink URL.

        The Voilà page sends its address once drawn; the kernel may have had it earlier from
        the server (`open_when_page_requested`), and then this is done once."""
        wanted = {k: str(params.get(k) or "") for k in ("job", "product", "fibre", "spectrum")}
        with self._query_lock:
            if wanted == self._opened_query:
                return
            self._opened_query = wanted
            if wanted["spectrum"]:
                self.open_spectrum(wanted["spectrum"])
                return
            job, name, fibre = wanted["job"], wanted["product"], wanted["fibre"]
            if fibre:
                if not fibre.isdigit() or len(fibre) > 6:
                    self._say(
                        f"fibre {quote_field(fibre)} is not a fibre number; showing the first",
                        "error",
                    )
                else:
                    self._first_fibre = max(int(fibre) - 1, 0)
            if job:
                self.offer_job(job)
            keys = [
                c["key"] for c in self.choices if not job or c["key"].startswith(f"Request {job}:")
            ]
            match = [k for k in keys if k.endswith(name)]
            if name and not match:
                self._say(
                    f"no product named {quote_field(name)}" + (f" in request {job}" if job else ""),
                    "error",
                )
            if match and (job or name or not self.product):
                self.product = match[0]

    def open_when_page_requested(self) -> None:
        """Open what the Voilà page's address asks for as soon as the server passes the
        request to this kernel, while the browser is still loading the page."""

        def opened(params: dict) -> None:
            try:
                self.open_from_query(params)
            except _USER_ERRORS as exc:
                self._say(str(exc) or type(exc).__name__, "error")
            except Exception:  # a thread's exception would reach no one: say it, log it
                log.exception("opening the page's product")
                self._say("the product could not be opened (the server's log says why)", "error")

        when_page_requested(opened)

    # ---- messages from the page ------------------------------------------------------------

    def _say(self, text: str, kind: str = "info") -> None:
        import datetime as dt

        self.message = {"text": text, "kind": kind, "at": dt.datetime.now().isoformat()}

    def _upload(self, name: str, size: int, offset: int, chunk: bytes) -> None:
        """Receive a file in pieces (a websocket message is capped at 10 MiB), then open it."""
        if size > MAX_UPLOAD_BYTES:
            raise Invalid(
                f"{name} is {size / 1e6:.0f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB"
            )
        safe = Path(name).name or "upload.fits"
        dest = self._uploads / safe
        part = dest.with_name(f".{safe}.part")
        if offset == 0:
            part.write_bytes(b"")
        elif not part.exists() or part.stat().st_size != offset:
            raise Invalid(f"{safe}: a piece of the upload went missing; please upload again")
        with open(part, "ab") as out:
            out.write(chunk)
        if offset + len(chunk) < size:
            return
        part.replace(dest)
        if not is_product(dest):
            dest.unlink()
            raise Invalid(
                f"{safe} is not a reduced product (a FITS file with spectra, "
                "a VARIANCE extension and a FIBRES table)"
            )
        earlier = [
            (c["label"], self._paths[c["key"]])
            for c in self.choices
            if c["group"] == "Uploaded" and c["label"] != safe
        ]
        self._offer("Uploaded", [*earlier, (safe, dest)])
        self.product = ""  # a file uploaded again under the same name is read again
        self.product = f"Uploaded:{safe}"

    def _on_message(self, _widget, content: dict, buffers) -> None:
        kind = str(content.get("type", ""))
        try:
            if kind == "init":
                try:
                    self.open_from_query(content.get("params") or {})
                finally:  # the page works, and lists the user's requests, whatever it asked
                    self.ready = True
                    self.send({"type": "requests", "requests": self.recent_requests()})
            elif kind == "spectrum":
                self.send_spectrum(int(content["fibre"]))
            elif kind == "job":
                self.offer_job(str(content["id"]))
                group = f"Request {content['id']}:"
                first = next((c["key"] for c in self.choices if c["key"].startswith(group)), None)
                if first is None:
                    raise NotFound(f"request {content['id']} has no products to show yet")
                self.product = first
            elif kind == "upload":
                if not buffers:
                    raise Invalid("the upload carried no file")
                self._upload(
                    str(content.get("name") or "upload.fits"),
                    int(content["size"]),
                    int(content["offset"]),
                    bytes(buffers[0]),
                )
            elif kind == "pdf":
                self._say("drawing every spectrum into a PDF…", "info")
                path = self.pdf()
                self.send({"type": "pdf", "name": path.name}, [path.read_bytes()])
                self._say(f"{path.name}: {self.summary.get('n_fibres')} spectra", "ok")
        except _USER_ERRORS as exc:
            self._say(str(exc) or type(exc).__name__, "error")


#: The group in which spectra opened by their DID are offered.
_SPECTRA = "Spectra (by DID)"


def spectrum_did(ref: str) -> str:
    """The publisher DID in ``ref``: the DID itself, or a DataLink URL's ``ID``."""
    from urllib.parse import parse_qs, urlparse

    ref = str(ref).strip()
    if ref.startswith(("http://", "https://", "/")):
        ids = parse_qs(urlparse(ref).query).get("ID")
        if not ids:
            raise Invalid(f"{quote_field(ref)} is not a DataLink URL (it has no ID)")
        return ids[0]
    if not ref.startswith("ivo://"):
        raise Invalid(
            f"{quote_field(ref)} is neither a spectrum's DID (ivo://…) nor its DataLink URL"
        )
    return ref
