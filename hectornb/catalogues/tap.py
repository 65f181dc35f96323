"""A catalogue that lives in a TAP service: each target's sources by an ADQL cone search.

Spec (``HECTORNB_CATALOGUES`` or the Classify app's ``catalogues=``)::

    tap:gaia.dr3_bright                      # a table of this platform's TAP service
    tap:https://host/tap#gaiadr3.gaia_source # a table of any TAP service (pyvo)

optionally followed by ``;mag=<column>;kind=star|galaxy;band=G;name=<short name>``. The
position and magnitude columns are found from UCDs (``pos.eq.ra;meta.main``, ``phot.mag``)
when not named. Answers are cached per (position, radius); a service that cannot be reached
gives no sources and says so once, and the app goes on with its other catalogues.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from dataclasses import dataclass, field

from ..errors import Invalid
from ..targets.coords import angular_separation_deg
from .sky import offsets_arcsec

log = logging.getLogger(__name__)


@dataclass
class TapCatalogue:
    """Sources around a position from a TAP table, as `SkyCatalogue.sources_near` gives them."""

    table: str
    url: str | None = None  # None: this platform's service, in-process
    name: str = ""
    band: str = ""
    kind: str = "star"
    mag: str | None = None
    _columns: tuple[str, str, str, str | None] | None = field(default=None, repr=False)
    _failed: bool = field(default=False, repr=False)
    _service: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or self.table.split(".")[-1]
        self._near = functools.lru_cache(maxsize=4096)(self._query)

    def _client(self):
        """One client for every cone (a page asks for hundreds)."""
        if self._service is None:
            from ..identity import process_user
            from ..tap.client import RemoteTap, platform_tap

            self._service = RemoteTap(self.url) if self.url else platform_tap(process_user())
        return self._service

    def _resolve(self, client) -> tuple[str, str, str, str | None]:
        """(ra, dec, id, mag) column names of the table."""
        if self._columns is None:
            tables = [
                t
                for s in client.describe()
                for t in s["tables"]
                if t["name"].lower() == self.table.lower()
            ]
            if not tables:
                raise Invalid(f"TAP catalogue {self.table}: no such table")
            cols = tables[0]["columns"]

            def by(ucd: str, *names: str) -> str | None:
                for c in cols:
                    if (c.get("ucd") or "").lower().startswith(ucd):
                        return c["name"]
                low = {c["name"].lower(): c["name"] for c in cols}
                return next((low[n] for n in names if n in low), None)

            ra, dec = by("pos.eq.ra", "ra"), by("pos.eq.dec", "dec")
            if ra is None or dec is None:
                raise Invalid(f"TAP catalogue {self.table}: no RA/Dec columns")
            ident = by("meta.id;meta.main", "id", "name", "source_id") or ra
            mag = self.mag or by("phot.mag", "mag", "phot_g_mean_mag", "bmag", "hpmag")
            self._columns = (ra, dec, ident, mag)
        return self._columns

    def _query(self, ra: float, dec: float, radius_arcsec: float) -> tuple[dict, ...]:
        client = self._client()
        ra_c, dec_c, ident, mag = self._resolve(client)
        ra_c, dec_c, ident = _q(ra_c), _q(dec_c), _q(ident)
        mag_sql = f", {_q(mag)} AS mag" if mag else ""
        adql = (
            f"SELECT {ident} AS id, {ra_c} AS ra, {dec_c} AS dec{mag_sql} FROM {self.table} "
            f"WHERE 1 = CONTAINS(POINT({ra_c}, {dec_c}), CIRCLE({float(ra)!r}, "
            f"{float(dec)!r}, {float(radius_arcsec) / 3600.0!r}))"
        )
        table = client.run(adql, maxrec=5000).table
        out = []
        for row in table:
            sra, sdec = float(row["ra"]), float(row["dec"])
            dx, dy = offsets_arcsec(ra, dec, sra, sdec)
            r = float(angular_separation_deg(ra, dec, sra, sdec)) * 3600.0
            m = (
                float(row["mag"])
                if mag and row["mag"] is not None and str(row["mag"]) != "--"
                else float("nan")
            )
            out.append(
                {
                    "catalogue": self.name,
                    "id": str(row["id"]),
                    "kind": self.kind,
                    "band": self.band,
                    "ra": sra,
                    "dec": sdec,
                    "dx": dx,
                    "dy": dy,
                    "r": r,
                    "mag": None if math.isnan(m) else round(m, 3),
                    "mag_err": None,
                    "size": None,
                }
            )
        out.sort(key=lambda s: s["r"])
        return tuple(out)

    def sources_near(self, ra: float, dec: float, radius_arcsec: float) -> list[dict]:
        """Sources within ``radius_arcsec`` of (ra, dec), nearest first; none (and a note in
        the log, once) when the service cannot be reached."""
        try:
            return [
                dict(s) for s in self._near(round(ra, 7), round(dec, 7), round(radius_arcsec, 3))
            ]
        except Exception as exc:  # offline, or the service refused: the app goes on
            if not self._failed:
                log.warning("TAP catalogue %s unavailable: %s", self.table, exc)
                self._failed = True
            return []


def _q(name: str) -> str:
    """An ADQL identifier for a column name: as it is when regular, else delimited."""
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        return name
    return '"' + name.strip('"').replace('"', '""') + '"'


def parse_tap_spec(spec: str) -> TapCatalogue:
    """A `TapCatalogue` from ``tap:[URL#]SCHEMA.TABLE[;key=value…]``."""
    body = spec[len("tap:") :]
    target, *options = body.split(";")
    url, hash_, table = target.rpartition("#")
    if not hash_:
        url, table = "", target
    if not re.fullmatch(r"[A-Za-z]\w*\.[A-Za-z]\w*", table.strip(), re.ASCII):
        raise Invalid(f"catalogue {spec!r}: give tap:SCHEMA.TABLE or tap:URL#SCHEMA.TABLE")
    if any("=" not in o for o in options if o.strip()):
        raise Invalid(f"catalogue {spec!r}: options are ;key=value")
    opts = dict(o.strip().split("=", 1) for o in options if o.strip())
    unknown = set(opts) - {"mag", "kind", "band", "name"}
    if unknown:
        raise Invalid(f"catalogue {spec!r}: unknown option(s) {', '.join(sorted(unknown))}")
    return TapCatalogue(
        table.strip(),
        url.strip() or None,
        name=opts.get("name", ""),
        band=opts.get("band", ""),
        kind=opts.get("kind", "star"),
        mag=opts.get("mag"),
    )
