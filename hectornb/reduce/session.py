"""One user's dealings with the Reduce service, as the Reduce and Explore apps need them.

`LocalReduce` works in this process, on the platform's database and files (a laptop, the
telescope, the data centre's service itself). `RemoteReduce` does the same through the data
centre's hectornb service, for a user's own server there, which holds no secret and cannot
read the products on disk: the service checks every request and streams the products.
`reduce_session` gives the one this process should use.

Both answer with the same shapes: `Reduction` records, steps and events as dicts, archive rows as
dicts, and products as ``(label, reference)`` pairs that `local_path` turns into a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path
from urllib.parse import quote

from astropy.io import fits

from ..client import ServiceBacked
from ..config import get_settings
from ..errors import Forbidden, Invalid, NotFound
from ..instrument.aat import FIBRE_TABLE_NAMES
from . import access
from .engines import engine_choices
from .store import Reduction, ReductionStore


def frame_fibres(path: str, targets_only: bool = False) -> list[dict]:
    """A raw frame's fibre table as rows (RA/Dec in degrees), for the archive grid's VIEW
    dialogs; with ``targets_only`` only the programme fibres."""
    with fits.open(path) as hdul:
        hdu = next((h for h in hdul[1:] if h.name in FIBRE_TABLE_NAMES), None)
        if hdu is None:
            kind = hdul[0].header.get("NDFCLASS", "raw")
            raise Invalid(f"{Path(path).name} has no fibre table (a {kind} frame)")
        from ..spectra.io import fibre_table  # astropy.table: only once a frame is read

        table = fibre_table(hdu)
    rows = []
    for i, row in enumerate(table):
        if targets_only and row["TYPE"] != "P":
            continue
        rows.append(
            {
                "fibre": i + 1,
                "name": str(row["NAME"]),
                "type": str(row["TYPE"]),
                "ra": round(float(row["RA"].value), 6),
                "dec": round(float(row["DEC"].value), 6),
                "magnitude": round(float(row["MAGNITUDE"]), 2),
                "pivot": int(row["PIVOT"]),
                "comment": str(row["COMMENT"]),
            }
        )
    return rows


def checked_frame_fibres(user: str, path: str, targets_only: bool = False) -> list[dict]:
    """`frame_fibres` of an archive frame ``user`` may see."""
    if access.unknown([path]):
        raise NotFound(f"not in the archive index: {Path(path).name}")
    if access.refused(user, [path], contents=True):
        raise Forbidden(f"{Path(path).name} belongs to a programme you are not a member of")
    return frame_fibres(path, targets_only)


class LocalReduce:
    """The Reduce service in this process, for ``user``."""

    def __init__(self, user: str, store: ReductionStore | None = None) -> None:
        self.user = user
        self.store = store or ReductionStore()

    def frames(self, filters: dict[str, str]) -> list[dict]:
        return access.visible_frames(self.user, filters)

    def fibres(self, path: str, targets_only: bool = False) -> list[dict]:
        return checked_frame_fibres(self.user, path, targets_only)

    def submit(
        self,
        frames: list[str] | None,
        options: dict | None = None,
        email: str | None = None,
        engine: str = "builtin",
        night_from: str | None = None,
        night_to: str | None = None,
    ) -> Reduction:
        from .service import submit

        return submit(self.user, frames, night_from, night_to, options or {}, engine, email)

    def engine_choices(self) -> tuple[list[str], dict[str, str]]:
        """The engines this platform can run now, and why the others cannot, by name."""
        return engine_choices(get_settings())

    def engines(self) -> list[str]:
        return self.engine_choices()[0]

    def engines_unavailable(self) -> dict[str, str]:
        return self.engine_choices()[1]

    def jobs(self, days: float = 7) -> list[Reduction]:
        return self.store.list(self.user, days)

    def job(self, job_id: str) -> Reduction:
        return self.store.get(job_id, self.user)

    def steps(self, job_id: str) -> list[dict]:
        return self.store.steps(job_id, self.user)

    def events(self, job_id: str, after: int = 0) -> list[dict]:
        return self.store.events(job_id, self.user, after)

    def cancel(self, job_id: str) -> Reduction:
        return self.store.cancel(job_id, self.user)

    def products(self, job_id: str) -> list[tuple[str, Path]]:
        from .service import products

        return products(self.job(job_id), self.steps(job_id))

    def download(self, job_id: str, what: str, dest: Path) -> Path:
        """A finished request's files as a zip (see `hectornb.reduce.service.package`)."""
        from .service import package

        job = self.job(job_id)
        if not job.final:
            raise Invalid(f"request {job.id} is {job.status}: products come at the end")
        return package(job, self.steps(job_id), what, Path(dest))

    def local_path(self, ref: Path) -> Path:
        return Path(ref)

    def spectrum_product(self, did: str) -> tuple[Path, int]:
        """The product holding the spectrum ``did`` and its fibre (from 0), if the user may
        see it (`NotFound` otherwise)."""
        from ..spectra.index import SpectrumIndex

        found = SpectrumIndex().locate(did, self.user)
        return found.product, found.fibre


def _when(value):
    return dt.datetime.fromisoformat(value) if isinstance(value, str) and value else value


def _job(data: dict) -> Reduction:
    fields = {k: data.get(k) for k in Reduction.__dataclass_fields__ if k in data}
    for k in ("created", "started", "finished"):
        fields[k] = _when(fields.get(k))
    fields.setdefault("plan", data.get("plan"))
    return Reduction(**fields)


def _dated(rows: list[dict], *keys: str) -> list[dict]:
    return [{**r, **{k: _when(r.get(k)) for k in keys if k in r}} for r in rows]


class RemoteReduce(ServiceBacked):
    """The Reduce service of the data centre, through its REST API, as its caller."""

    def __init__(self, client=None) -> None:
        super().__init__(client)
        self._cache = Path(tempfile.mkdtemp(prefix="hectornb-products-"))

    @property
    def user(self) -> str:
        return self.client.user

    def frames(self, filters: dict[str, str]) -> list[dict]:
        return self.client.get("reduce/frames", **{k: v for k, v in filters.items() if v})["frames"]

    def fibres(self, path: str, targets_only: bool = False) -> list[dict]:
        return self.client.get(
            "reduce/frames/fibres", path=path, targets="true" if targets_only else "false"
        )["rows"]

    def submit(
        self,
        frames: list[str] | None,
        options: dict | None = None,
        email: str | None = None,
        engine: str = "builtin",
        night_from: str | None = None,
        night_to: str | None = None,
    ) -> Reduction:
        body = {
            "frames": frames,
            "options": options or {},
            "engine": engine,
            "email": email,
            "night_from": night_from,
            "night_to": night_to,
        }
        return _job(
            self.client.post("reduce/jobs", {k: v for k, v in body.items() if v is not None})
        )

    def engine_choices(self) -> tuple[list[str], dict[str, str]]:
        out = self.client.get("reduce/engines")
        return out["engines"], out.get("unavailable", {})  # older services say no reasons

    def engines(self) -> list[str]:
        return self.engine_choices()[0]

    def engines_unavailable(self) -> dict[str, str]:
        return self.engine_choices()[1]

    def jobs(self, days: float = 7) -> list[Reduction]:
        return [_job(j) for j in self.client.get("reduce/jobs", days=days)["jobs"]]

    def _detail(self, job_id: str) -> dict:
        return self.client.get(f"reduce/jobs/{quote(job_id, safe='')}")

    def job(self, job_id: str) -> Reduction:
        return _job(self._detail(job_id))

    def steps(self, job_id: str) -> list[dict]:
        return _dated(self._detail(job_id)["steps"], "started", "finished")

    def events(self, job_id: str, after: int = 0) -> list[dict]:
        out = self.client.get(f"reduce/jobs/{quote(job_id, safe='')}/events", after=after)
        return _dated(out["events"], "at")

    def cancel(self, job_id: str) -> Reduction:
        return _job(self.client.post(f"reduce/jobs/{quote(job_id, safe='')}/cancel"))

    def products(self, job_id: str) -> list[tuple[str, tuple[str, str]]]:
        out = self.client.get(f"reduce/jobs/{quote(job_id, safe='')}/products")
        return [(p["name"], (job_id, p["name"])) for p in out["products"]]

    def download(self, job_id: str, what: str, dest: Path) -> Path:
        return self.client.download(job_id, dest, what)

    def spectrum_product(self, did: str) -> tuple[Path, int]:
        """The product holding the spectrum ``did`` (fetched from the service's DataLink
        once) and its fibre (from 0)."""
        key = hashlib.sha1(did.encode()).hexdigest()[:16]
        dest = self._cache / "spectra" / f"{key}.fits"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            response = self.client.session.get(
                f"{self.client.url}/hectornb/datalink/file",
                params={"ID": did, "name": "product"},
                timeout=self.client.timeout,
                stream=True,
            )
            if response.status_code == 404:
                raise NotFound(f"no spectrum {did} that you may see")
            response.raise_for_status()
            part = dest.with_suffix(".part")
            with response, open(part, "wb") as out:
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
            part.rename(dest)
        return dest, int(did.rsplit("/", 1)[-1])

    def local_path(self, ref: tuple[str, str]) -> Path:
        """The product, fetched from the service once into this session's cache."""
        job_id, name = ref
        dest = self._cache / job_id / name
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            path = f"reduce/jobs/{quote(job_id, safe='')}/products/{quote(name)}"
            part = dest.with_suffix(dest.suffix + ".part")
            response = self.client.request("GET", path, stream=True)
            with response, open(part, "wb") as out:
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
            part.rename(dest)
        return dest


def reduce_session(user: str):
    """`RemoteReduce` in a user's server at a data centre (``HECTORNB_SERVICE_URL``), else
    `LocalReduce` for ``user``."""
    if get_settings().service_url:
        return RemoteReduce()
    return LocalReduce(user)
