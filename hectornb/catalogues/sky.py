"""A catalogue of sources held in memory, cut in cones around targets."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..targets.coords import angular_separation_deg


def offsets_arcsec(ra0: float, dec0: float, ra: float, dec: float) -> tuple[float, float]:
    """(east, north) offsets in arcsec of (ra, dec) from (ra0, dec0), all in degrees: the
    flat-sky offsets a finder chart draws (RA wraps at 0/360)."""
    dra = (ra - ra0 + 180.0) % 360.0 - 180.0
    return dra * math.cos(math.radians(dec0)) * 3600.0, (dec - dec0) * 3600.0


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
        for i, s in zip(idx.tolist(), sep.tolist(), strict=True):
            dx, dy = offsets_arcsec(ra, dec, float(self.ra[i]), float(self.dec[i]))
            mag, err = float(self.mag[i]), float(self.mag_err[i])
            out.append(
                {
                    "catalogue": self.name,
                    "id": self.label(self.ids[i]),
                    "kind": self.kind,
                    "band": self.band,
                    "ra": float(self.ra[i]),
                    "dec": float(self.dec[i]),
                    "dx": dx,
                    "dy": dy,
                    "r": s,
                    "mag": None if math.isnan(mag) else round(mag, 3),
                    "mag_err": None if math.isnan(err) else round(err, 3),
                    "size": None
                    if self.size_arcsec is None or math.isnan(self.size_arcsec[i])
                    else float(self.size_arcsec[i]),
                }
            )
        return out
