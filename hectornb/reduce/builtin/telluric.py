"""Telluric correction (2dFdr's TELCOR): the atmosphere's absorption bands divided out.

Every fibre of a frame looks through the same air, so the transmission in each band is
measured on the frame itself: for each bright programme fibre (continuum S/N per pixel at
least ``TELSN``) a straight continuum is fitted on both sides of the band and the fibre is
divided by it inside the band; the transmission is the median of those ratios over the
fibres (a galaxy's own lines in a band differ from fibre to fibre and drop out of the
median). Outside the bands the transmission is one.
"""

from __future__ import annotations

import numpy as np

# O2 B, H2O, O2 A, H2O, H2O (Angstrom, air): where the sky absorbs more than a per cent
BANDS = ((6860.0, 6925.0), (7150.0, 7350.0), (7585.0, 7705.0), (8120.0, 8360.0), (8940.0, 9800.0))
SIDE = 60.0  # Angstrom of continuum fitted on each side of a band


def transmission(
    spectra: np.ndarray,
    variance: np.ndarray,
    grid: np.ndarray,
    fibres: np.ndarray,
    min_snr: float = 5.0,
) -> tuple[np.ndarray, int]:
    """The atmosphere's transmission on ``grid`` and the number of fibres that measured it.

    ``spectra`` are sky-subtracted (sky emission is not absorbed); ``fibres`` marks the
    programme fibres to consider. Bands without continuum on both sides inside the grid,
    or without bright fibres, are left at one.
    """
    result = np.ones_like(grid, dtype=float)
    candidates = np.flatnonzero(fibres & np.isfinite(spectra).any(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        snr = np.nanmedian(spectra[candidates] / np.sqrt(variance[candidates]), axis=1)
    bright = candidates[snr >= min_snr]
    if len(bright) == 0:
        return result, 0
    for lo, hi in BANDS:
        band = (grid >= lo) & (grid <= hi)
        left = (grid >= lo - SIDE) & (grid < lo)
        right = (grid > hi) & (grid <= hi + SIDE)
        if not band.any() or left.sum() < 5 or right.sum() < 5:
            continue
        side = left | right
        ratios = []
        for f in bright:
            ok = side & np.isfinite(spectra[f])
            if ok.sum() < 10:
                continue
            slope, level = np.polyfit(grid[ok] - lo, spectra[f, ok], 1)
            continuum = level + slope * (grid[band] - lo)
            if np.all(continuum > 0):
                ratios.append(spectra[f, band] / continuum)
        if ratios:
            result[band] = np.clip(np.nanmedian(ratios, axis=0), 0.02, 1.0)
    return result, len(bright)


def correct(spectra: np.ndarray, variance: np.ndarray, t: np.ndarray):
    """Spectra and variance divided by the transmission ``t``."""
    return spectra / t[None, :], variance / (t[None, :] ** 2)
