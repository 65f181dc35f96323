"""A small fixed catalogue for the TAP tests, with rows placed where geometry is hard: both
sides of RA 0/360, around both poles, a polygon's inside and outside."""

from __future__ import annotations

import numpy as np
from astropy.table import MaskedColumn, Table

#: id -> (ra, dec, mag or None, name)
ROWS = {
    1: (0.0, 0.0, 10.0, "origin"),
    2: (359.999, 0.0, 11.0, "west of RA 0"),  # 3.6 arcsec from 1, across RA 0/360
    3: (0.001, 0.0, 12.0, "east of RA 0"),
    4: (180.0, 89.999, 13.0, "north pole a"),  # 4 and 5: 7.2 arcsec apart across the pole
    5: (0.0, 89.999, 14.0, "north pole b"),
    6: (90.0, -89.9995, 15.0, "south pole a"),  # 6 and 7: 3.6 arcsec apart
    7: (270.0, -89.9995, 16.0, "south pole b"),
    8: (10.0, 10.0, 17.0, "box centre"),
    9: (10.4, 10.2, 18.0, "box corner"),
    10: (11.0, 10.0, 19.0, "outside box"),
    11: (200.0, -30.0, None, "no magnitude"),
    12: (45.0, 45.0, 5.5, "O'Neil's star"),
    13: (45.0, 45.5, 6.5, "Percent %s star"),
    14: (120.0, -60.0, 21.0, "faint south"),
    15: (300.0, 20.0, 8.0, "bright north"),
}


def fixed_catalogue() -> Table:
    ids = sorted(ROWS)
    t = Table()
    t["id"] = np.array(ids, dtype=np.int64)
    t["ra"] = np.array([ROWS[i][0] for i in ids])
    t["dec"] = np.array([ROWS[i][1] for i in ids])
    mags = [ROWS[i][2] for i in ids]
    t["mag"] = MaskedColumn(
        [m if m is not None else 0.0 for m in mags],
        mask=[m is None for m in mags],
        dtype=np.float32,
    )
    t["name"] = [ROWS[i][3] for i in ids]
    t["ra"].unit = t["dec"].unit = "deg"
    t["mag"].unit = "mag"
    t["ra"].meta["ucd"] = "pos.eq.ra;meta.main"
    t["dec"].meta["ucd"] = "pos.eq.dec;meta.main"
    t["mag"].description = "V magnitude"
    return t


def sep_deg(a: int, b: int) -> float:
    """Great-circle separation of two rows, degrees (numpy, independent of the service)."""
    ra1, dec1, ra2, dec2 = np.radians([ROWS[a][0], ROWS[a][1], ROWS[b][0], ROWS[b][1]])
    c = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(ra1 - ra2)
    return float(np.degrees(np.arccos(np.clip(c, -1, 1))))
