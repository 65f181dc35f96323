"""The TAP app: query this platform's catalogues, or any TAP service, in ADQL.

A service selector (this platform, or a TAP URL), the metadata browser (schemas → tables →
columns with type, unit, UCD, indexed, description), the capabilities, an ADQL editor with
the service's examples, synchronous or asynchronous runs (jobs listed, resumed, aborted),
results in a grid with downloads (VOTable, CSV, FITS), a local table uploaded for a join or
cross-match (``TAP_UPLOAD.<name>``), and a result's positions sent to the Classify app as a
new target list. Everything runs as the signed-in user.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import anywidget
import numpy as np
import traitlets as t

from ..config import get_settings
from ..errors import HectornbError, Invalid
from ..identity import is_hub_service, process_user
from ..tap.client import LocalTap, QueryResult, RemoteTap, platform_tap
from ..tap.fetch import check_url
from ._esm import esm

if TYPE_CHECKING:  # astropy.table loads with the first result
    from astropy.table import Table

_HERE = Path(__file__).parent
SHOWN = 500  # rows drawn in the grid; downloads hold the whole result

_DOWNLOADS = {
    "votable": ("votable", "application/x-votable+xml", "vot"),
    "csv": ("ascii.csv", "text/csv", "csv"),
    "fits": ("fits", "application/fits", "fits"),
}


def _float_text(column):
    """How the grid writes a column's floats: as its VOTable ``precision`` and ``width`` say
    (astropy's ``format``), else with the digits the type carries (7 for float32, 10 for
    float64: 10^-7 degrees is 0.4 mas). The downloads keep every digit."""
    digits = 7 if column.dtype.kind == "f" and column.dtype.itemsize <= 4 else 10
    spec = column.info.format
    found = re.fullmatch(r"\{:\d*\.(\d+)([eEfFgG])\}", spec) if isinstance(spec, str) else None
    if found:  # a service's precision, at most 17 digits (a double holds no more); no width
        places, kind = min(int(found[1]), 17), found[2]
        return lambda v: f"{v:.{places}{kind}}"
    return lambda v: f"{v:.{digits}g}"


def _cell(value, as_text=None):
    if value is None or value is np.ma.masked:
        return None
    if isinstance(value, np.ndarray):
        return [_cell(v, as_text) for v in value.tolist()]
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (np.integer, int)):
        v = int(value)
        return str(v) if abs(v) > 2**53 else v  # beyond JavaScript's exact integers: text
    if isinstance(value, (np.floating, float)):
        v = float(value)
        if math.isnan(v):
            return None
        return as_text(v) if as_text else v
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    return str(value)


def table_rows(table: Table, limit: int = SHOWN) -> list[list]:
    """The first ``limit`` rows of ``table`` as JSON values (masked cells are None, floats
    as text to the column's precision)."""
    texts = {c: _float_text(table[c]) for c in table.colnames if table[c].dtype.kind == "f"}
    out = []
    for row in table[:limit]:
        out.append([_cell(row[c], texts.get(c)) for c in table.colnames])
    return out


def positions(table: Table) -> tuple[str, str, str | None]:
    """(ra, dec, name) columns of a result: UCDs first, then the usual names."""

    def ucd(c) -> str:
        return (table[c].meta.get("ucd") or "").lower()

    ra = next((c for c in table.colnames if ucd(c).startswith("pos.eq.ra")), None)
    dec = next((c for c in table.colnames if ucd(c).startswith("pos.eq.dec")), None)
    low = {c.lower(): c for c in table.colnames}
    ra = ra or low.get("ra") or low.get("raj2000") or low.get("ra_icrs")
    dec = dec or low.get("dec") or low.get("dej2000") or low.get("de_icrs")
    if ra is None or dec is None:
        raise Invalid(
            "the result has no positions: it needs RA and Dec columns (by UCD, or named ra and dec)"
        )
    name = next((c for c in table.colnames if ucd(c).startswith("meta.id;meta.main")), None)
    name = name or next(
        (low[n] for n in ("name", "target", "source_id", "id", "hip") if n in low), None
    )
    return ra, dec, name


class TapApp(anywidget.AnyWidget):
    """The TAP app for the signed-in user."""

    _esm = esm("tap")
    _css = _HERE / "tap.css"

    user = t.Unicode("").tag(sync=True)
    service = t.Unicode("this platform").tag(sync=True)
    schemas = t.List().tag(sync=True)
    capabilities = t.Dict().tag(sync=True)
    examples = t.List().tag(sync=True)
    adql = t.Unicode("").tag(sync=True)
    #: {"columns": [{name, unit, ucd, datatype}], "rows", "total", "overflow", "source"}
    result = t.Dict().tag(sync=True)
    jobs = t.List().tag(sync=True)
    uploads = t.List().tag(sync=True)  # names of the tables uploaded for the next query
    message = t.Dict().tag(sync=True)
    busy = t.Bool(False).tag(sync=True)
    ready = t.Bool(False).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._user = process_user()
        self.user = self._user
        self.client: LocalTap | RemoteTap = platform_tap(self._user)
        self._table: Table | None = None
        self._uploads: dict[str, Table] = {}
        self.on_msg(self._on_message)

    # ---- actions (also callable from Python) ----------------------------------------------

    def connect(self, url: str = "") -> None:
        """This platform's service (no ``url``), or the TAP service at ``url``."""
        if url.strip() and is_hub_service():
            # this kernel runs inside the data centre: not a way in for whoever opened it
            check_url(url.strip(), get_settings().tap_upload_hosts)
        client = RemoteTap(url) if url.strip() else platform_tap(self._user)
        schemas = client.describe()  # fails here, not half-way, when the URL is wrong
        self.client = client
        with self.hold_sync():
            self.service = client.name
            self.schemas = schemas
            self.capabilities = client.capabilities()
            self.examples = client.examples()
            self.jobs = client.jobs()
            self.result = {}
        n = sum(len(s["tables"]) for s in schemas)
        self._say(f"{client.name}: {n} tables", "ok")

    def run(self, adql: str, mode: str = "sync", maxrec: int | None = None) -> QueryResult | str:
        """Run ``adql`` now (sync: the result is shown) or as a job (async: its id)."""
        self.adql = adql
        if mode == "async":
            job_id = self.client.submit(adql, maxrec, self._uploads)
            self.jobs = self.client.jobs()
            self._say(f"job {job_id} submitted: it runs on the server; open it when done", "ok")
            return job_id
        result = self.client.run(adql, maxrec, self._uploads)
        self._show(result, "query")
        return result

    def resume(self, ref: str) -> str:
        """Follow a job submitted elsewhere (TOPCAT, pyvo, another session), by ID or URL."""
        job_id = self.client.resume(ref.strip())
        self.jobs = self.client.jobs()
        self._say(f"job {job_id} resumed", "ok")
        return job_id

    def open_job(self, job_id: str) -> QueryResult:
        result = self.client.job_result(job_id)
        self._show(result, f"job {job_id}")
        return result

    def upload(self, name: str, filename: str, data: bytes) -> Table:
        """A local table (VOTable, CSV, FITS, …) to query as ``TAP_UPLOAD.<name>``."""
        from ..tap.uploads import NAME

        if not NAME.match(name):
            raise Invalid(f"upload name {name!r}: letters, digits and _ (a letter first)")
        table = _read_table(filename, data)
        self._uploads[name] = table
        self.uploads = sorted(self._uploads)
        self._say(f"{filename}: {len(table)} rows, query it as TAP_UPLOAD.{name}", "ok")
        return table

    def download(self, kind: str) -> tuple[str, str, bytes]:
        """(file name, media type, bytes) of the shown result in ``kind`` (votable, csv,
        fits)."""
        if self._table is None:
            raise Invalid("run a query first")
        fmt, mime, ext = _DOWNLOADS[kind]
        if kind == "csv":  # astropy writes text formats to a text stream
            text = io.StringIO()
            self._table.write(text, format=fmt)
            data = text.getvalue().encode("utf-8")
        else:
            out = io.BytesIO()
            table = _fits_ready(self._table) if kind == "fits" else self._table
            table.write(out, format=fmt)
            data = out.getvalue()
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"tap-result-{stamp}.{ext}", mime, data

    def to_target_list(self, name: str) -> dict:
        """The shown result's positions as a new target list of the Classify app."""
        from ..targets import parse_target_bytes, target_store

        if self._table is None or len(self._table) == 0:
            raise Invalid("run a query with rows first")
        ra, dec, label = positions(self._table)
        lines = ["# from the TAP app: " + " ".join(self.adql.split())[:200]]
        for k, row in enumerate(self._table):
            if row[ra] is np.ma.masked or row[dec] is np.ma.masked:
                continue
            target = str(row[label]) if label is not None else f"row{k + 1}"
            lines.append(f"{target.replace(',', ' ')},{float(row[ra])!r},{float(row[dec])!r}")
        targets = parse_target_bytes(("\n".join(lines) + "\n").encode(), f"{name}.csv")
        info = target_store().import_list(targets, name, self._user)
        self._say(
            f"target list {name}: {info.n_targets} targets; open it in Classify", "ok", list=name
        )
        return {"name": name, "targets": info.n_targets}

    # ---- helpers -------------------------------------------------------------------------

    def _show(self, result: QueryResult, source: str) -> None:
        table = result.table
        self._table = table
        columns = [
            {
                "name": c,
                "unit": str(table[c].unit) if table[c].unit else None,
                "ucd": table[c].meta.get("ucd"),
                "datatype": str(table[c].dtype),
            }
            for c in table.colnames
        ]
        with self.hold_sync():
            self.result = {
                "columns": columns,
                "rows": table_rows(table),
                "total": len(table),
                "overflow": result.overflow,
                "source": source,
            }
            self.jobs = self.client.jobs()
        more = " (MAXREC reached: there are more)" if result.overflow else ""
        self._say(f"{len(table)} rows{more}", "ok")

    def _failed(self, action: str, text: str) -> None:
        """Say why ``action`` failed; a failed query also takes the place of the last
        result, so no older rows sit under its error as if they were its answer."""
        self._say(text, "error")
        if action == "run":
            self.result = {"error": text}

    def _say(self, text: str, kind: str = "info", **extra) -> None:
        self.message = {"text": text, "kind": kind, "at": dt.datetime.now().isoformat(), **extra}

    def _on_message(self, _widget, content: dict, buffers) -> None:
        kind = str(content.get("type", ""))
        self.busy = True
        try:
            if kind == "connect":
                self.connect(str(content.get("url") or ""))
                self.ready = True
            elif kind == "run":
                maxrec = content.get("maxrec")
                self.run(
                    str(content.get("adql") or ""),
                    str(content.get("mode") or "sync"),
                    int(maxrec) if maxrec not in (None, "") else None,
                )
            elif kind == "jobs":
                self.jobs = self.client.jobs()
            elif kind == "resume":
                self.resume(str(content.get("ref") or ""))
            elif kind == "open_job":
                self.open_job(str(content["id"]))
            elif kind in ("abort", "delete"):
                getattr(self.client, kind)(str(content["id"]))
                self.jobs = self.client.jobs()
                done = {"abort": "aborted", "delete": "deleted"}[kind]
                self._say(f"job {content['id']} {done}", "ok")
            elif kind == "upload":
                self.upload(
                    str(content.get("name") or ""),
                    str(content.get("filename") or ""),
                    bytes(buffers[0]) if buffers else b"",
                )
            elif kind == "forget_upload":
                self._uploads.pop(str(content.get("name")), None)
                self.uploads = sorted(self._uploads)
            elif kind == "download":
                filename, mime, data = self.download(str(content.get("format") or "votable"))
                self.send({"type": "download", "filename": filename, "mime": mime}, [data])
            elif kind == "classify":
                self.to_target_list(str(content.get("name") or "").strip())
        except HectornbError as exc:  # a remote service's failure is one too (RemoteFailure)
            self._failed(kind, str(exc))
        except Exception:  # the platform's own fault: logged, and said as such, not as yours
            logging.getLogger("hectornb.widgets").exception("TAP app: %s failed", kind)
            self._failed(kind, "an internal error of the platform (logged); please report it")
        finally:
            self.busy = False


def _fits_ready(table: Table) -> Table:
    """A copy FITS can hold: variable-length text (VOTable ``char[*]``) as fixed strings."""
    out = table.copy(copy_data=False)
    for name in out.colnames:
        if out[name].dtype.kind == "O":
            out[name] = np.array(
                ["" if v is None or v is np.ma.masked else str(v) for v in out[name]], dtype=str
            )
    return out


def _read_table(filename: str, data: bytes) -> Table:
    from astropy.table import Table

    from ..tap.uploads import table_from_bytes

    low = filename.lower()
    if low.endswith((".fits", ".fit", ".fits.gz")):
        return Table.read(io.BytesIO(data), format="fits")
    if low.endswith(".parquet"):
        return Table.read(io.BytesIO(data), format="parquet")
    return table_from_bytes(data, filename)


def tap_page(**kwargs) -> TapApp:
    """The TAP app as the Voilà page shows it."""
    return TapApp(**kwargs)
