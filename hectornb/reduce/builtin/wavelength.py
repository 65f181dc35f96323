"""Arc line identification and a wavelength solution per fibre.

First guess from the header (LAMBDCR, Angstrom at the central pixel; DISPERS, Angstrom per
pixel). On the median arc spectrum a search over shift and scale finds the placement that
puts the list's isolated lines nearest detected peaks. Then the median arc's solution is
refined coarse to fine (2, 1, 0.7 pixels) on every list line it can be measured on: a real
lamp shows many lines the list leaves out, and blends of listed with unlisted lines. So
each line is measured with its known neighbours taken off (`line_amplitudes` fits the
heights of every line the lamps show, from NIST and IRAF's lists, on the median arc), and
lines with a neighbour closer than 0.6 of their width are not used. Each fibre's lines are
measured the same way at its own offset, weighted by their noise, and fitted: the
curvature is the spectrograph's (shared), the scale a smooth function along the slit, the
offset each fibre's own. Each fibre's weighted RMS is reported in pixels.

Before the deblending, on arcs with NIST's line ratios the centres of lines pulled by
unlisted neighbours left fibres 0.2–0.6 pixel out; Hector's 1000R arc did not solve.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from numpy.polynomial import Polynomial
from scipy import sparse
from scipy.optimize import lsq_linear
from scipy.signal import find_peaks, peak_widths

from ...instrument import arc_atlas, lamps_named, one_per_line
from ..errors import DataError


class ArcError(DataError):
    """The arc does not show enough known lines to fit a wavelength solution."""


@dataclass
class WavelengthSolution:
    """Wavelength (Angstrom) of every pixel of every fibre, and how well each fibre fit."""

    wavelength: np.ndarray  # (n_fibres, n_pixels); NaN rows for unlit fibres
    rms_pixels: np.ndarray  # (n_fibres,)
    n_lines: np.ndarray  # (n_fibres,)


def line_centres(
    spectrum: np.ndarray,
    guesses: np.ndarray,
    sigma: float,
    neighbours: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Centres (pixels) of the arc lines near ``guesses`` in ``spectrum``.

    Each is the Gaussian-weighted first moment (width ``sigma`` pixels) within +-2.5 sigma,
    iterated to its fixed point, which for a symmetric line is its centre. It weighs the
    whole core as a fit would: a Gaussian through three points left 1000R fibres 1.3x
    noisier. Measured above zero, as an arc has no continuum (a baseline through the
    window's ends picked up neighbours' wings: 1.9x noisier). NaN where the window leaves
    the spectrum or holds no line.

    ``neighbours``, (positions, amplitudes), each (n_guesses, k) with NaN positions for
    none, are lines of width ``sigma`` taken off each window first: a line's known
    neighbours, which would otherwise pull its centre towards them.
    """
    s = np.asarray(spectrum, dtype=float)
    guesses = np.atleast_1d(np.asarray(guesses, dtype=float))
    half = max(2, int(np.ceil(2.5 * sigma)))
    start = np.round(np.nan_to_num(guesses)).astype(int)
    inside = (start - half >= 0) & (start + half < len(s))
    x = np.clip(start, half, len(s) - half - 1)[:, None] + np.arange(-half, half + 1)
    window = s[x]
    if neighbours is not None:
        position, amplitude = neighbours
        light = amplitude[:, :, None] * np.exp(
            -0.5 * ((x[:, None, :] - position[:, :, None]) / sigma) ** 2
        )
        window = window - np.nansum(light, axis=1)
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


def narrow_spikes(spectrum: np.ndarray, noise: float) -> np.ndarray:
    """Pixels (with a pixel either side) that stand out of ``spectrum`` by more than half
    their height and 8 times the ``noise``: narrower than any line the optics make (a line
    of FWHM 2 pixels keeps its neighbours above 0.5 of its peak), so a hot column or a
    cosmic ray."""
    s = np.nan_to_num(np.asarray(spectrum, dtype=float))
    sides = np.maximum(np.r_[s[1:2], s[:-1]], np.r_[s[1:], s[-2:-1]])
    spike = (s - sides > 0.5 * s) & (s - sides > 8 * noise)
    return spike | np.r_[spike[1:], False] | np.r_[False, spike[:-1]]


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


def _placement_score(peaks: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """How well each row of ``predicted`` (pixels) lands on ``peaks``: each line scores by
    its distance to the nearest peak, 1 on it and nothing beyond 2 pixels (a linear guess
    misses the curvature of a real solution at the ends by about that). Counting every
    line within 2 pixels alike let a real arc's unlisted lines outvote the right place."""
    if len(peaks) == 0:
        return np.zeros(len(predicted))
    j = np.clip(np.searchsorted(peaks, predicted), 1, len(peaks) - 1)
    d = np.minimum(np.abs(peaks[j - 1] - predicted), np.abs(peaks[j] - predicted))
    return np.where(d < 2.0, np.exp(-0.5 * d**2), 0.0).sum(axis=1)


def _fit(
    x: np.ndarray, lam: np.ndarray, order: int, n_pix: int, error: np.ndarray | None = None
) -> tuple[Polynomial, np.ndarray]:
    """A polynomial through (pixel, wavelength), weighted by each centre's ``error``
    (pixels) if given, clipped at 4 times the residuals' robust spread, in errors when they
    are known (and then never below 4 errors: a few lines would otherwise clip each other)."""
    floor = 0.0 if error is None else 1.0
    error = np.ones(len(x)) if error is None else error
    keep = np.ones(len(x), bool)
    for _ in range(4):
        poly = Polynomial.fit(x[keep], lam[keep], order, domain=[0, n_pix - 1], w=1 / error[keep])
        resid = (lam - poly(x)) / np.abs(poly.deriv()(x)) / error
        scale = max(1.4826 * np.median(np.abs(resid[keep])), floor) + 1e-9
        new = np.abs(resid) < 4 * scale
        if np.array_equal(new, keep):
            break
        keep = new
    return poly, keep


def fit_arc(
    arc: np.ndarray,
    variance: np.ndarray,
    header: fits.Header,
    lines: np.ndarray,
    order: int = 3,
    min_lines: int = 8,
) -> WavelengthSolution:
    """Wavelength solution per fibre from extracted arc spectra and their variance
    (n_fibres x n_pixels); lines are detected above 8 times each fibre's noise."""
    n_fib, n_pix = arc.shape
    lines = np.unique(lines)  # a line in two lamps' lists is one line
    lit = np.isfinite(arc).all(axis=1)
    centre, disp = float(header["LAMBDCR"]), float(header["DISPERS"])
    x = np.arange(n_pix)
    noise = np.full(n_fib, np.nan)
    noise[lit] = np.sqrt(np.median(variance[lit], axis=1))  # unlit fibres have no spectrum
    reference = np.nanmedian(arc[lit], axis=0)
    ref_noise = float(np.median(noise[lit])) * 1.25 / np.sqrt(lit.sum())
    spikes = narrow_spikes(reference, ref_noise)
    if spikes.any():  # a hot column: where it sits, no fibre's lines can be measured
        arc = arc.copy()
        arc[:, spikes] = np.nan
        reference[spikes] = np.nan
    ref_peaks, fwhm = _centroids(reference, 8 * ref_noise)
    lo, hi = centre - disp * n_pix * 0.6, centre + disp * n_pix * 0.6
    usable = isolated_lines(lines[(lines > lo) & (lines < hi)], 1.5 * max(fwhm, 2.0) * disp)
    # placement of the line list: the scale and shift that put most lines nearest peaks
    best = (-1.0, 0.0, 1.0)
    shifts = np.arange(-0.05 * n_pix, 0.05 * n_pix, 0.25)
    for scale in np.linspace(0.97, 1.03, 31):
        base = (usable - centre) / (disp * scale) + n_pix / 2
        score = _placement_score(ref_peaks, base[None, :] + shifts[:, None])
        k = int(np.argmax(score))
        if score[k] > best[0]:
            best = (float(score[k]), float(shifts[k]), float(scale))
    _, shift, scale = best
    # then the solution of the median arc, coarse to fine, on every list line that can be
    # measured there, each with its known neighbours taken off
    sigma = max(fwhm / 2.3548, 0.7)
    atlas = _atlas(header, lines)
    ref_variance = np.nanmedian(variance[lit], axis=0) * 1.25**2 / lit.sum()
    step = disp * scale
    ref_poly = Polynomial([centre - step * (n_pix / 2 + shift), step])  # pixel -> wavelength
    inverse = Polynomial([n_pix / 2 + shift - centre / step, 1 / step])
    candidates = lines[(lines > lo) & (lines < hi)]

    def blends_on(inverse: Polynomial, ref_poly: Polynomial) -> _Blends:
        first, last = sorted(ref_poly(np.array([0.0, n_pix - 1.0])))
        on = candidates[(candidates > first) & (candidates < last)]
        return _Blends.measure(reference, inverse, on, atlas, sigma, 8 * ref_noise)

    for tolerance, degree in ((2.0, 2), (1.0, order), (0.7, order)):
        blends = blends_on(inverse, ref_poly)
        px, lam, err = blends.centres(
            reference, ref_variance, inverse, 1.0, sigma, 8 * ref_noise, tolerance
        )
        if len(px) < min_lines:
            raise ArcError(
                f"only {len(px)} arc lines identified near {centre:.0f} Å "
                f"({len(ref_peaks)} peaks, {len(candidates)} list lines)"
            )
        ref_poly, _ = _fit(px, lam, degree, n_pix, err)
        inverse = Polynomial.fit(ref_poly(x), x, order + 2)  # wavelength -> pixel
    blends = blends_on(inverse, ref_poly)
    flux = np.nansum(reference)
    matched: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    shapes = []
    for f in np.flatnonzero(lit):
        offset = blends.offset(arc[f], inverse, sigma)
        # twice: the second time the neighbours sit where this fibre's lines say they are
        for _ in range(2):
            to_pixel = lambda lam, o=offset: inverse(lam) + o  # noqa: E731
            brightness = np.nansum(arc[f]) / flux
            px, lam, err = blends.centres(
                arc[f], variance[f], to_pixel, brightness, sigma, 8 * noise[f]
            )
            if len(px) < min_lines:
                raise ArcError(f"fibre {f + 1}: only {len(px)} arc lines identified")
            offset += float(np.median(px - to_pixel(lam)))
        with warnings.catch_warnings():
            # few lines leave one fibre's curvature loose; only the median over fibres is used
            warnings.simplefilter("ignore", np.exceptions.RankWarning)
            poly, keep = _fit(px, lam, order, n_pix, err)
        matched[f] = (px, lam, keep, err)
        shapes.append(poly.coef[2:])
    # Fibres differ by where the slit puts them (an offset); the curvature of the solution
    # is the spectrograph's, and so is the scale, which changes smoothly along the slit
    # (camera distortion). So the median curvature is shared, the scale is a smooth function
    # of slit position, and each fibre keeps its own offset: with 18 lines (1000R) a free
    # cubic per fibre was 1.5x noisier, and a free scale left fibres 0.15 pixel out at the
    # ends of the range.
    shape = np.median(shapes, axis=0) if shapes else np.zeros(0)
    fibres = np.array(sorted(matched))
    scales = np.array(
        [
            _fit_with_shape(px[k], lam[k], shape, n_pix, error=e[k]).coef[1]
            for px, lam, k, e in (matched[f] for f in fibres)
        ]
    )
    smooth = _along_slit(fibres, scales)
    wavelength = np.full((n_fib, n_pix), np.nan)
    rms = np.full(n_fib, np.nan)
    n_lines = np.zeros(n_fib, int)
    for f, scale in zip(fibres, smooth, strict=True):
        px, lam, keep, err = matched[f]
        poly = _fit_with_shape(px[keep], lam[keep], shape, n_pix, scale, err[keep])
        wavelength[f] = poly(x)
        local = np.abs(poly.deriv()(px[keep]))
        # weighted as the fit is: the faint lines' scatter says little of the solution
        resid = (lam[keep] - poly(px[keep])) / local
        rms[f] = float(np.sqrt(np.average(resid**2, weights=err[keep] ** -2)))
        n_lines[f] = int(keep.sum())
    return WavelengthSolution(wavelength, rms, n_lines)


#: A list line with another known line closer than this many line FWHM is not used: the
#: two cannot be told apart.
UNRESOLVED = 0.6
#: Known lines within this many line FWHM of a used line are taken off before its centre
#: is measured.
DEBLEND_REACH = 2.5
#: The smallest error (pixels) a line centre is given when lines are weighted.
CENTRE_FLOOR = 0.02


def _atlas(header: fits.Header, lines: np.ndarray) -> np.ndarray:
    """Every line the arc's lamps (``LAMPNAME``) are known to show, with ``lines``."""
    return one_per_line(arc_atlas(lamps_named(header.get("LAMPNAME", ""))), lines)


def line_amplitudes(spectrum: np.ndarray, positions: np.ndarray, sigma: float) -> np.ndarray:
    """Non-negative peak heights of Gaussian lines of width ``sigma`` at ``positions``
    (pixels) that together best make ``spectrum``; 0 for lines off the spectrum."""
    s = np.nan_to_num(np.asarray(spectrum, dtype=float))
    x = np.arange(len(s))
    on = np.flatnonzero((positions > -3 * sigma) & (positions < len(s) - 1 + 3 * sigma))
    rows, cols, vals = [], [], []
    half = int(np.ceil(4 * sigma))
    for k, p in enumerate(positions[on]):
        near = x[max(int(p) - half, 0) : min(int(p) + half + 2, len(s))]
        rows.append(near)
        cols.append(np.full(len(near), k))
        vals.append(np.exp(-0.5 * ((near - p) / sigma) ** 2))
    amplitude = np.zeros(len(positions))
    if len(on):
        basis = sparse.csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(s), len(on)),
        )
        amplitude[on] = lsq_linear(basis, s, bounds=(0, np.inf), method="trf", lsmr_tol="auto").x
    return amplitude


@dataclass
class _Blends:
    """The list lines an arc can be measured on, and each one's known neighbours with their
    heights in the median arc (a fibre's are those times its brightness)."""

    lines: np.ndarray  # (n,) air wavelengths, Å
    height: np.ndarray  # (n,) in the median arc
    neighbours: np.ndarray  # (n, k) wavelengths, NaN for none
    heights: np.ndarray  # (n, k)

    @classmethod
    def measure(
        cls,
        reference: np.ndarray,
        to_pixel: Polynomial,
        lines: np.ndarray,
        atlas: np.ndarray,
        sigma: float,
        detectable: float,
    ) -> _Blends:
        """From the median arc and its solution (``to_pixel``: wavelength to pixel): list
        lines higher than ``detectable`` with no known line within `UNRESOLVED` FWHM."""
        heights = line_amplitudes(reference, to_pixel(atlas), sigma)
        fwhm = 2.3548 * sigma
        px = to_pixel(atlas)
        own = np.clip(np.searchsorted(atlas, lines), 1, len(atlas) - 1)
        own = np.where(np.abs(atlas[own - 1] - lines) < np.abs(atlas[own] - lines), own - 1, own)
        gaps = np.abs(px[None, :] - px[own][:, None])
        gaps[np.arange(len(own)), own] = np.inf
        clear = (gaps.min(axis=1) > UNRESOLVED * fwhm) & (heights[own] > detectable)
        near = gaps[clear] < DEBLEND_REACH * fwhm
        k = max(int(near.sum(axis=1).max(initial=0)), 1)
        neighbours = np.full((clear.sum(), k), np.nan)
        weights = np.zeros((clear.sum(), k))
        for i, row in enumerate(near):
            idx = np.flatnonzero(row)
            neighbours[i, : len(idx)] = atlas[idx]
            weights[i, : len(idx)] = heights[idx]
        return cls(lines[clear], heights[own][clear], neighbours, weights)

    def offset(self, spectrum: np.ndarray, to_pixel, sigma: float, brightest: int = 12) -> float:
        """How far (pixels) ``spectrum``'s lines lie from where ``to_pixel`` puts them: the
        median over its ``brightest`` lines. Matching every peak to the list instead let
        a real arc's unlisted lines mislead it, and a cross-correlation was led by a hot
        column, which stays put while the fibre's lines move."""
        pick = np.argsort(self.height)[-brightest:]
        guesses = to_pixel(self.lines[pick])
        found = line_centres(spectrum, guesses, sigma)
        moved = found - guesses
        return float(np.nanmedian(moved)) if np.isfinite(moved).any() else 0.0

    def centres(
        self,
        spectrum: np.ndarray,
        variance: np.ndarray,
        to_pixel,
        brightness: float,
        sigma: float,
        detectable: float,
        tolerance: float = 0.7,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel centres of the lines in ``spectrum`` with their neighbours taken off,
        their wavelengths and the centres' errors (pixels); only lines higher than
        ``detectable`` here, found within ``tolerance`` pixels of where ``to_pixel`` puts
        them."""
        height = self.height * brightness
        guesses = to_pixel(self.lines)
        nb = to_pixel(np.nan_to_num(self.neighbours))
        nb[np.isnan(self.neighbours)] = np.nan
        found = line_centres(spectrum, guesses, sigma, (nb, self.heights * brightness))
        ok = np.isfinite(found) & (np.abs(found - guesses) < tolerance) & (height > detectable)
        at = np.clip(np.round(found[ok]).astype(int), 0, len(spectrum) - 1)
        # a centre's error (pixels): the line's width times the noise under it over its
        # height, and a floor for what no noise explains (the neighbours' model, the
        # profile), without which a few bright lines outweighed all the others
        noise = np.sqrt(np.maximum(np.nan_to_num(variance[at]), 0.0))
        error = np.hypot(sigma * noise / height[ok], CENTRE_FLOOR)
        return found[ok], self.lines[ok], error


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


def _fit_with_shape(
    x: np.ndarray,
    lam: np.ndarray,
    shape: np.ndarray,
    n_pix: int,
    scale: float | None = None,
    error: np.ndarray | None = None,
) -> Polynomial:
    """A polynomial whose coefficients above the linear are ``shape``; the constant fitted,
    and the linear term too unless ``scale`` gives it; weighted by ``error`` if given."""
    fixed = Polynomial(np.concatenate([[0.0, 0.0], shape]), domain=[0, n_pix - 1])
    offset, stretch = fixed.mapparms()
    t = offset + stretch * x
    weight = np.ones(len(x)) if error is None else 1 / error
    if scale is None:
        c1, c0 = np.polyfit(t, lam - fixed(x), 1, w=weight)
    else:
        c0 = float(np.average(lam - fixed(x) - scale * t, weights=weight**2))
        c1 = scale
    return Polynomial(np.concatenate([[c0, c1], shape]), domain=[0, n_pix - 1])
