"""PCA sky residual removal (2dFdr's PCASKY), after the median sky has been subtracted.

A median sky leaves line residuals where fibres differ a little from the median: in
spectral resolution, wavelength, or throughput at the line. Those residuals are alike from
fibre to fibre, so the residuals at the sky-line pixels are decomposed into principal
components, and each fibre's residual at those pixels is fitted with the first few and
subtracted (Sharp & Parkinson 2010 did this for 2dFdr). Each fibre's own continuum is
removed first (a running median), so a galaxy's continuum is untouched. The components
come from the sky fibres only: built from every fibre they took out twice as much of the
residual in a test, but they also learnt the emission line that the galaxies shared (as a
hexabundle's 61 fibres on one galaxy do) and moved its flux by 5 %. Pixels the components
cannot explain (a galaxy's emission line on a sky line) are clipped from each fibre's fit;
the faint wings of such a line still lend the fit a little, so it can lose a few per cent.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter


def sky_line_pixels(sky: np.ndarray, threshold: float = 0.2) -> np.ndarray:
    """Pixels where the sky's lines rise more than ``threshold`` times its continuum."""
    clean = np.nan_to_num(sky)
    continuum = median_filter(clean, size=31, mode="nearest")
    return clean - continuum > threshold * np.maximum(continuum, 1e-9)


def pca_sky(
    spectra: np.ndarray, sky: np.ndarray, sky_fibres: np.ndarray, n_components: int = 5
) -> tuple[np.ndarray, int]:
    """Sky-subtracted ``spectra`` with the sky-line residuals' leading components removed.

    Returns the cleaned spectra and the number of components used (at most one fewer than
    the sky fibres with spectra).
    """
    out = spectra.copy()
    lines = sky_line_pixels(sky)
    finite = np.all(np.isfinite(spectra), axis=1)
    rows = sky_fibres & finite
    n = min(n_components, int(rows.sum()) - 1)
    if n < 1 or lines.sum() < 2 * n:
        return out, 0
    clean = np.where(finite[:, None], spectra, 0.0)
    high_pass = (clean - median_filter(clean, size=(1, 31), mode="nearest"))[:, lines]
    _, _, vt = np.linalg.svd(high_pass[rows], full_matrices=False)
    components = vt[:n]  # (n, n_line_pixels)
    for f in np.flatnonzero(finite):
        r = high_pass[f]
        keep = np.ones(r.size, bool)
        for _ in range(3):
            coef, *_ = np.linalg.lstsq(components[:, keep].T, r[keep], rcond=None)
            misfit = r - coef @ components
            scale = 1.4826 * np.median(np.abs(misfit[keep])) + 1e-12
            new = np.abs(misfit) < 5 * scale
            if np.array_equal(new, keep):
                break
            keep = new
        out[f, lines] -= coef @ components
    return out, n
