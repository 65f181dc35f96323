"""Spherical geometry the ADQL translator needs at translation time (degrees throughout).

Positions in a published table are indexed with a b-tree on (dec, ra), which stock
PostgreSQL has. A cone then becomes a band in declination (an index range) plus, away from
the poles, a window in right ascension checked inside the index, and finally the exact
great-circle distance. Polygons are bounded by the smallest cap around their vertices.
"""

from __future__ import annotations

import math

import numpy as np


def ra_half_width(dec: float, radius: float) -> float | None:
    """Half-width in RA (deg) of the box around a cone at ``dec`` of ``radius`` (deg), or
    None when the cone reaches a pole (every RA is then possible)."""
    if abs(dec) + radius >= 89.999:
        return None
    # the widest point of a small circle is at asin(sin r / cos dec) from its centre's RA
    s = math.sin(math.radians(radius)) / math.cos(math.radians(dec))
    if s >= 1:
        return None
    return math.degrees(math.asin(s)) + 1e-9


def unit_vectors(ra, dec) -> np.ndarray:
    ra, dec = np.radians(np.asarray(ra, float)), np.radians(np.asarray(dec, float))
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def bounding_cap(vertices: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(ra, dec, radius) of a cap holding a polygon given by its vertices.

    Great-circle edges between vertices inside a cap smaller than a hemisphere stay inside
    it, so the cap bounds the whole polygon."""
    v = unit_vectors([p[0] for p in vertices], [p[1] for p in vertices])
    centre = v.sum(axis=0)
    norm = np.linalg.norm(centre)
    if norm < 1e-12:
        return 0.0, 0.0, 180.0
    centre /= norm
    radius = float(np.degrees(np.arccos(np.clip(v @ centre, -1, 1))).max())
    ra = math.degrees(math.atan2(centre[1], centre[0])) % 360
    dec = math.degrees(math.asin(max(-1.0, min(1.0, centre[2]))))
    return ra, dec, radius + 1e-9


def polygon_area(vertices: list[tuple[float, float]]) -> float:
    """Area (square degrees) of a spherical polygon with great-circle edges (the smaller
    side of its boundary)."""
    v = unit_vectors([p[0] for p in vertices], [p[1] for p in vertices])
    n = len(v)
    total = 0.0
    for i in range(n):
        a, b, c = v[i - 1], v[i], v[(i + 1) % n]
        # interior angle at b between the great circles b->a and b->c
        ta, tc = np.cross(np.cross(b, a), b), np.cross(np.cross(b, c), b)
        angle = math.atan2(float(np.dot(np.cross(ta, tc), b)), float(np.dot(ta, tc)))
        total += angle % (2 * math.pi)
    excess = total - (n - 2) * math.pi
    excess = excess % (4 * math.pi)
    excess = min(excess, 4 * math.pi - excess)
    return excess * (180 / math.pi) ** 2
