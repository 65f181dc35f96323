"""The tramline map: where each fibre's spectrum runs on the detector, from a fibre flat.

At evenly spaced columns the flat's light is collapsed over a few columns, fibre peaks are
found and centroided; the peaks are identified with slit positions using the fibre table
(broken fibres, type N, give no light, so the gaps in the pattern of peaks fix which fibre is
which); each fibre's centroids are fitted with a polynomial in column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from ..errors import DataError
from .extract import fit_profile_sigma


class TramlineError(DataError):
    """The flat does not show the fibres the fibre table expects."""


@dataclass
class TramlineMap:
    """Trace centre (row) of every fibre at every column; NaN for fibres without light.

    ``sigma`` is the Gaussian width (rows) of the spatial profile measured on the flat.
    """

    centres: np.ndarray  # (n_fibres, n_columns)
    lit: np.ndarray  # bool (n_fibres,)
    sigma: float

    @property
    def n_fibres(self) -> int:
        return self.centres.shape[0]


def _peaks(profile: np.ndarray, min_distance: float) -> np.ndarray:
    height = np.percentile(profile, 95) * 0.15
    idx, _ = find_peaks(profile, height=height, distance=max(1, int(min_distance * 0.6)))
    # three-point parabolic centroid
    idx = idx[(idx > 0) & (idx < len(profile) - 1)]
    a, b, c = profile[idx - 1], profile[idx], profile[idx + 1]
    denom = a - 2 * b + c
    shift = np.where(denom != 0, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    return idx + shift


def _identify(peaks: np.ndarray, lit: np.ndarray, pitch: float) -> np.ndarray:
    """Slit position (fibre index) of each peak, using the gaps left by unlit fibres."""
    # gaps measured between neighbours: a pitch error cannot accumulate along the slit
    steps = np.concatenate([[0], np.cumsum(np.rint(np.diff(peaks) / pitch))]).astype(int)
    lit_idx = set(np.flatnonzero(lit).tolist())
    best, best_score = None, -1
    for offset in range(0, len(lit) - steps[-1]):
        score = sum((offset + s) in lit_idx for s in steps)
        if score > best_score:
            best, best_score = offset, score
    if best is None or best_score < len(steps):
        raise TramlineError(
            f"found {len(peaks)} fibre traces that fit no placement of the "
            f"{int(lit.sum())} lit fibres of the fibre table"
        )
    return best + steps


def find_tramlines(
    flat: np.ndarray,
    fibre_types: np.ndarray,
    n_samples: int = 24,
    order: int = 3,
) -> TramlineMap:
    """Trace every lit fibre of a fibre-flat image (rows x columns, electrons).

    Parameters
    ----------
    flat : numpy.ndarray
        Preprocessed fibre flat.
    fibre_types : numpy.ndarray
        TYPE column of the fibre table, in slit order; type ``N`` fibres carry no light.
    """
    n_rows, n_cols = flat.shape
    lit = np.asarray(fibre_types) != "N"
    n_fib = len(lit)
    pitch_guess = n_rows / (n_fib + 2)
    cols = np.linspace(8, n_cols - 9, n_samples).astype(int)
    samples = np.full((n_fib, n_samples), np.nan)
    for j, c in enumerate(cols):
        profile = np.median(flat[:, max(c - 3, 0) : c + 4], axis=1)
        peaks = _peaks(profile, pitch_guess)
        if len(peaks) < 2:
            continue
        pitch = float(np.median(np.diff(peaks)))
        if len(peaks) != lit.sum():
            raise TramlineError(
                f"column {c}: {len(peaks)} fibre traces found, the fibre table has "
                f"{int(lit.sum())} lit fibres ({n_fib - int(lit.sum())} broken)"
            )
        samples[_identify(peaks, lit, pitch), j] = peaks
    x = np.arange(n_cols)
    centres = np.full((n_fib, n_cols), np.nan)
    for f in np.flatnonzero(lit):
        ok = np.isfinite(samples[f])
        if ok.sum() <= order:
            raise TramlineError(f"fibre {f + 1}: traced at only {ok.sum()} columns")
        coef = np.polynomial.polynomial.polyfit(cols[ok], samples[f, ok], order)
        centres[f] = np.polynomial.polynomial.polyval(x, coef)
    return TramlineMap(centres, lit, fit_profile_sigma(flat, centres, lit))
