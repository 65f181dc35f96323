"""Arc line identification and a wavelength solution per fibre.

First guess from the header (LAMBDCR, Angstrom at the central pixel; DISPERS, Angstrom per
pixel). Only list lines with no other list line within 1.5 line widths are used: the
three-point centroid reads only +-1 pixel, so a neighbour that far pulls it < 0.02 pixel.
On the median arc spectrum a search over shift and scale finds the placement that puts
most lines on detected peaks; it is refined coarse to fine (2, 1, 0.7 pixels), then each
fibre's peaks are matched to the lines and fitted with a polynomial (sigma-clipped), whose
RMS is reported in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from numpy.polynomial import Polynomial
from scipy.signal import find_peaks, peak_widths

from ..errors import DataError


class ArcError(DataError):
    """The arc does not show enough known lines to fit a wavelength solution."""


@dataclass
class WavelengthSolution:
    """Wavelength (Angstrom) of every pixel of every fibre, and how well each fibre fit."""

    wavelength: np.ndarray  # (n_fibres, n_pixels); NaN rows for unlit fibres
    rms_pixels: np.ndarray  # (n_fibres,)
    n_lines: np.ndarray  # (n_fibres,)


def _centroids(spectrum: np.ndarray, min_prominence: float) -> tuple[np.ndarray, float]:
    """Sub-pixel peak positions (Gaussian through three points) and the median FWHM."""
    s = np.nan_to_num(spectrum)
    idx, _ = find_peaks(s, prominence=min_prominence)
    idx = idx[(idx > 1) & (idx < len(s) - 2)]
    if len(idx) == 0:
        return idx.astype(float), 0.0
    fwhm = float(np.median(peak_widths(s, idx, rel_height=0.5)[0]))
    a, b, c = (np.log(np.clip(s[idx + k], 1e-3, None)) for k in (-1, 0, 1))
    denom = a - 2 * b + c
    shift = np.where(denom < 0, 0.5 * (a - c) / np.where(denom == 0, -1, denom), 0.0)
    return idx + np.clip(shift, -0.5, 0.5), fwhm


def isolated_lines(lines: np.ndarray, separation: float) -> np.ndarray:
    lines = np.sort(lines)
    gaps = np.diff(lines)
    left = np.concatenate([[np.inf], gaps])
    right = np.concatenate([gaps, [np.inf]])
    return lines[(left > separation) & (right > separation)]


def _match(
    peaks: np.ndarray, predicted: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """(peak index, line index) pairs closer than ``tolerance`` pixels, one-to-one."""
    if len(peaks) == 0 or len(predicted) == 0:
        return np.array([], int), np.array([], int)
    j = np.clip(np.searchsorted(peaks, predicted), 1, len(peaks) - 1)
    nearer = np.where(np.abs(peaks[j - 1] - predicted) < np.abs(peaks[j] - predicted), j - 1, j)
    ok = np.abs(peaks[nearer] - predicted) < tolerance
    line_idx = np.flatnonzero(ok)
    peak_idx = nearer[ok]
    _, first = np.unique(peak_idx, return_index=True)
    return peak_idx[first], line_idx[first]


def _fit(x: np.ndarray, lam: np.ndarray, order: int, n_pix: int) -> tuple[Polynomial, np.ndarray]:
    keep = np.ones(len(x), bool)
    for _ in range(4):
        poly = Polynomial.fit(x[keep], lam[keep], order, domain=[0, n_pix - 1])
        resid = lam - poly(x)
        scale = 1.4826 * np.median(np.abs(resid[keep])) + 1e-9
        new = np.abs(resid) < 4 * scale
        if np.array_equal(new, keep):
            break
        keep = new
    return poly, keep


def fit_arc(arc: np.ndarray, variance: np.ndarray, header: fits.Header, lines: np.ndarray,
            order: int = 3, min_lines: int = 8) -> WavelengthSolution:  # fmt: skip
    """Wavelength solution per fibre from extracted arc spectra and their variance
    (n_fibres x n_pixels); lines are detected above 8 times each fibre's noise."""
    n_fib, n_pix = arc.shape
    lit = np.isfinite(arc).all(axis=1)
    centre, disp = float(header["LAMBDCR"]), float(header["DISPERS"])
    x = np.arange(n_pix)
    noise = np.full(n_fib, np.nan)
    noise[lit] = np.sqrt(np.median(variance[lit], axis=1))  # unlit fibres have no spectrum
    reference = np.nanmedian(arc[lit], axis=0)
    ref_noise = float(np.median(noise[lit])) * 1.25 / np.sqrt(lit.sum())
    ref_peaks, fwhm = _centroids(reference, 8 * ref_noise)
    lo, hi = centre - disp * n_pix * 0.6, centre + disp * n_pix * 0.6
    usable = isolated_lines(lines[(lines > lo) & (lines < hi)], 1.5 * max(fwhm, 2.0) * disp)
    # placement of the line list: scale and shift that put most lines on peaks
    best = (-1, 0.0, 1.0)
    for scale in np.linspace(0.97, 1.03, 31):
        base = (usable - centre) / (disp * scale) + n_pix / 2
        for shift in np.arange(-0.05 * n_pix, 0.05 * n_pix, 0.25):
            # 2 px: a linear guess misses the curvature of a real solution at the ends
            n = len(_match(ref_peaks, base + shift, 2.0)[0])
            if n > best[0]:
                best = (n, shift, scale)
    if best[0] < min_lines:
        raise ArcError(f"only {best[0]} arc lines identified near {centre:.0f} Å "
                       f"({len(ref_peaks)} peaks, {len(usable)} isolated list lines)")  # fmt: skip
    _, shift, scale = best
    predicted = (usable - centre) / (disp * scale) + n_pix / 2 + shift
    for tolerance, degree in ((2.0, 2), (1.0, order), (0.7, order)):  # coarse to fine
        p_idx, l_idx = _match(ref_peaks, predicted, tolerance)
        ref_poly, _ = _fit(ref_peaks[p_idx], usable[l_idx], degree, n_pix)
        inverse = Polynomial.fit(ref_poly(x), x, order + 2)  # wavelength -> pixel
        predicted = inverse(usable)

    matched: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    shapes = []
    for f in np.flatnonzero(lit):
        peaks, _ = _centroids(arc[f], 8 * noise[f])
        predicted = inverse(usable)
        p_idx, l_idx = _match(peaks, predicted, 2.0)
        offset = np.median(peaks[p_idx] - predicted[l_idx]) if len(p_idx) else 0.0
        p_idx, l_idx = _match(peaks, predicted + offset, 0.7)
        if len(p_idx) < min_lines:
            raise ArcError(f"fibre {f + 1}: only {len(p_idx)} arc lines identified")
        poly, keep = _fit(peaks[p_idx], usable[l_idx], order, n_pix)
        matched[f] = (peaks[p_idx], usable[l_idx], keep)
        shapes.append(poly.coef[2:])
    # Fibres differ by where the slit puts them (an offset and a scale); the curvature of
    # the solution is the spectrograph's. The median curvature, shared, leaves each fibre
    # two free terms: with 18 lines (1000R) its own cubic was 1.5x noisier.
    shape = np.median(shapes, axis=0) if shapes else np.zeros(0)
    wavelength = np.full((n_fib, n_pix), np.nan)
    rms = np.full(n_fib, np.nan)
    n_lines = np.zeros(n_fib, int)
    for f, (px, lam, keep) in matched.items():
        poly = _fit_with_shape(px[keep], lam[keep], shape, n_pix)
        wavelength[f] = poly(x)
        local = np.abs(poly.deriv()(px[keep]))
        rms[f] = float(np.sqrt(np.mean(((lam[keep] - poly(px[keep])) / local) ** 2)))
        n_lines[f] = int(keep.sum())
    return WavelengthSolution(wavelength, rms, n_lines)


def _fit_with_shape(x: np.ndarray, lam: np.ndarray, shape: np.ndarray,
                    n_pix: int) -> Polynomial:  # fmt: skip
    """A polynomial whose coefficients above the linear are ``shape``; the first two fitted."""
    fixed = Polynomial(np.concatenate([[0.0, 0.0], shape]), domain=[0, n_pix - 1])
    offset, scale = fixed.mapparms()
    c1, c0 = np.polyfit(offset + scale * x, lam - fixed(x), 1)
    return Polynomial(np.concatenate([[c0, c1], shape]), domain=[0, n_pix - 1])
