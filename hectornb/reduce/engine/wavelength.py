"""Arc line identification and a wavelength solution per fibre.

First guess from the header (LAMBDCR, Angstrom at the central pixel; DISPERS, Angstrom per
pixel). Only list lines with no other list line within 1.5 line widths are used. On the
median arc spectrum a search over shift and scale finds the placement that puts most lines
on detected peaks; it is refined coarse to fine (2, 1, 0.7 pixels), then each fibre's
peaks (Gaussian-weighted centroids) are matched to the lines and fitted: the curvature is
the spectrograph's (shared), the scale a smooth function along the slit, the offset each
fibre's own. Each fibre's RMS is reported in pixels.
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


def line_centres(spectrum: np.ndarray, guesses: np.ndarray, sigma: float) -> np.ndarray:
    """Centres (pixels) of the arc lines near ``guesses`` in ``spectrum``.

    Each is the Gaussian-weighted first moment (width ``sigma`` pixels) within +-2.5 sigma,
    iterated to its fixed point, which for a symmetric line is its centre. It weighs the
    whole core as a fit would: a Gaussian through three points left 1000R fibres 1.3x
    noisier. Measured above zero, as an arc has no continuum (a baseline through the
    window's ends picked up neighbours' wings: 1.9x noisier). NaN where the window leaves
    the spectrum or holds no line.
    """
    s = np.asarray(spectrum, dtype=float)
    guesses = np.atleast_1d(np.asarray(guesses, dtype=float))
    half = max(2, int(np.ceil(2.5 * sigma)))
    start = np.round(guesses).astype(int)
    inside = (start - half >= 0) & (start + half < len(s))
    x = np.clip(start, half, len(s) - half - 1)[:, None] + np.arange(-half, half + 1)
    window = s[x]
    centre = guesses.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(10):
            w = np.exp(-0.5 * ((x - centre[:, None]) / sigma) ** 2) * window
            total = w.sum(axis=1)
            new = (w * x).sum(axis=1) / total
            done = np.nanmax(np.abs(new - centre), initial=0.0) < 1e-4
            centre = new
            if done:
                break
    ok = inside & (total > 0) & np.isfinite(centre) & np.all(np.isfinite(window), axis=1)
    return np.where(ok, centre, np.nan)


def _centroids(spectrum: np.ndarray, min_prominence: float) -> tuple[np.ndarray, float]:
    """Sub-pixel positions of an arc spectrum's peaks and their median FWHM (pixels)."""
    s = np.nan_to_num(spectrum)
    idx, _ = find_peaks(s, prominence=min_prominence)
    idx = idx[(idx > 1) & (idx < len(s) - 2)]
    if len(idx) == 0:
        return idx.astype(float), 0.0
    fwhm = float(np.median(peak_widths(s, idx, rel_height=0.5)[0]))
    centres = line_centres(s, idx.astype(float), max(fwhm / 2.355, 0.7))
    # a blend or a window at the edge keeps its peak pixel (the fit will clip it)
    good = np.isfinite(centres) & (np.abs(centres - idx) < 1.0)
    return np.where(good, centres, idx.astype(float)), fwhm


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
    # Fibres differ by where the slit puts them (an offset); the curvature of the solution
    # is the spectrograph's, and so is the scale, which changes smoothly along the slit
    # (camera distortion). So the median curvature is shared, the scale is a smooth function
    # of slit position, and each fibre keeps its own offset: with 18 lines (1000R) a free
    # cubic per fibre was 1.5x noisier, and a free scale left fibres 0.15 pixel out at the
    # ends of the range.
    shape = np.median(shapes, axis=0) if shapes else np.zeros(0)
    fibres = np.array(sorted(matched))
    scales = np.array([_fit_with_shape(px[k], lam[k], shape, n_pix).coef[1]
                       for px, lam, k in (matched[f] for f in fibres)])  # fmt: skip
    smooth = _along_slit(fibres, scales)
    wavelength = np.full((n_fib, n_pix), np.nan)
    rms = np.full(n_fib, np.nan)
    n_lines = np.zeros(n_fib, int)
    for f, scale in zip(fibres, smooth, strict=True):
        px, lam, keep = matched[f]
        poly = _fit_with_shape(px[keep], lam[keep], shape, n_pix, scale)
        wavelength[f] = poly(x)
        local = np.abs(poly.deriv()(px[keep]))
        rms[f] = float(np.sqrt(np.mean(((lam[keep] - poly(px[keep])) / local) ** 2)))
        n_lines[f] = int(keep.sum())
    return WavelengthSolution(wavelength, rms, n_lines)


def _along_slit(fibres: np.ndarray, values: np.ndarray, order: int = 3) -> np.ndarray:
    """``values`` smoothed along the slit: a sigma-clipped polynomial in fibre number (the
    values themselves when too few fibres to smooth)."""
    if len(fibres) <= 2 * (order + 1):
        return values
    keep = np.ones(len(fibres), bool)
    for _ in range(5):
        poly = Polynomial.fit(fibres[keep], values[keep], order)
        resid = values - poly(fibres)
        new = np.abs(resid) < 4 * 1.4826 * np.median(np.abs(resid[keep])) + 1e-12
        if np.array_equal(new, keep):
            break
        keep = new
    return poly(fibres)


def _fit_with_shape(x: np.ndarray, lam: np.ndarray, shape: np.ndarray, n_pix: int,
                    scale: float | None = None) -> Polynomial:  # fmt: skip
    """A polynomial whose coefficients above the linear are ``shape``; the constant fitted,
    and the linear term too unless ``scale`` gives it."""
    fixed = Polynomial(np.concatenate([[0.0, 0.0], shape]), domain=[0, n_pix - 1])
    offset, stretch = fixed.mapparms()
    t = offset + stretch * x
    if scale is None:
        c1, c0 = np.polyfit(t, lam - fixed(x), 1)
    else:
        c1, c0 = scale, float(np.mean(lam - fixed(x) - scale * t))
    return Polynomial(np.concatenate([[c0, c1], shape]), domain=[0, n_pix - 1])
