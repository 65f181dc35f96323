"""Secondary wavelength calibration from the night-sky lines (2dFdr's SKYSCRUNCH).

The arc fixes the wavelength scale when it was taken; by the object exposure the
spectrograph may have moved a little (flexure, temperature). Every fibre sees the same
sky lines, so:

1. each fibre's shift relative to the sky fibres' median spectrum is measured on their
   line structure (high-pass filtered spectra; Gauss-Newton on a Fourier-shifted reference,
   so the shift is not tied to whole pixels); night-sky lines dominate that structure;
2. the sky fibres' median spectrum's own offset from the true wavelengths is the median
   over listed lines of a local fit: the line and its listed neighbours, free amplitudes,
   one common shift (`absolute_offset`);
3. the offsets are smoothed along the slit (a polynomial of degree 0 to 2, the lowest the
   data call for; weighted, sigma-clipped): the spectrograph moves as a whole, and a faint
   fibre should not decide its own wavelengths. With ten or more sky fibres only they are
   measured;
4. the correction carries its standard error (the zero point's and the slit fit's), and
   is applied only where it is expected to do better than the arc alone
   (`SkyLineCorrection.worth_applying`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy.ndimage import maximum_filter1d, uniform_filter1d
from scipy.signal import find_peaks, peak_widths


def _high_pass(spectra: np.ndarray, width: int = 15) -> np.ndarray:
    """Spectra less a running mean: lines stay, continua (a galaxy's, the sky's) go."""
    clean = np.nan_to_num(np.asarray(spectra, dtype=np.float32))
    return clean - uniform_filter1d(clean, width, axis=-1, mode="nearest")


def _shifted(ref_ft: np.ndarray, k: np.ndarray, shift: np.ndarray, n: int):
    """The reference moved by ``shift`` pixels (one row per shift) and its derivative."""
    phase = np.exp(-2j * np.pi * k[None, :] * shift[:, None]).astype(np.complex64)
    moved = ref_ft[None, :] * phase
    return sp_fft.irfft(moved, n=n), sp_fft.irfft(moved * (2j * np.pi * k[None, :]), n=n)


def relative_shifts(
    spectra: np.ndarray, reference: np.ndarray, iterations: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Shift (pixels) of each spectrum's line structure relative to ``reference`` (a sky
    spectrum), and its standard error.

    Only pixels near the reference's lines count, and pixels that the shifted reference
    cannot explain (a galaxy's emission lines) are clipped at 4 sigma.
    """
    h = _high_pass(spectra)
    ref = _high_pass(reference[None])[0]
    n = h.shape[1]
    scale = 1.4826 * np.median(np.abs(ref - np.median(ref)))
    near = maximum_filter1d(np.abs(ref) > 5 * scale, size=7)
    near[:8] = near[-8:] = False  # the Fourier shift wraps around at the ends
    cols = np.flatnonzero(near)
    if len(cols) == 0:  # no line structure to align on
        return np.zeros(h.shape[0]), np.full(h.shape[0], np.inf)
    data = h[:, cols]
    k = np.fft.rfftfreq(n).astype(np.float32)
    ref_ft = sp_fft.rfft(ref)
    shift = np.zeros(h.shape[0])
    error = np.full(h.shape[0], np.inf)
    use = np.ones(data.shape, bool)
    for _ in range(iterations):
        model, slope = (a[:, cols] for a in _shifted(ref_ft, k, shift, n))
        w = use.astype(np.float32)
        amp = np.sum(w * data * model, axis=1) / np.maximum(np.sum(w * model**2, axis=1), 1e-30)
        jac = -amp[:, None] * slope
        resid = data - amp[:, None] * model
        curvature = np.maximum(np.sum(w * jac**2, axis=1), 1e-30)
        shift = np.clip(shift + np.sum(w * resid * jac, axis=1) / curvature, -5, 5)
        noise = 1.4826 * np.nanmedian(np.abs(np.where(use, resid, np.nan)), axis=1)
        noise = np.nan_to_num(noise, nan=np.inf)
        error = noise / np.sqrt(curvature)
        use = np.abs(resid) <= 4 * noise[:, None]  # a perfect fit keeps every pixel
    return shift, error


def _line_fit(
    x: np.ndarray, y: np.ndarray, centres: np.ndarray, sigma: float, shifts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Squared residuals and amplitudes of the best fit of ``y`` at pixels ``x`` by a
    straight baseline plus Gaussians at ``centres`` + each shift (one row per shift)."""
    g = np.exp(
        -0.5 * ((x[None, :, None] - centres[None, None, :] - shifts[:, None, None]) / sigma) ** 2
    )
    ramp = (x - x.mean()) / max(np.ptp(x), 1)
    base = np.broadcast_to(np.stack([np.ones_like(ramp), ramp], axis=-1), (len(shifts), len(x), 2))
    design = np.concatenate([base, g], axis=2)
    normal = np.einsum("dpm,dpk->dmk", design, design) + 1e-9 * np.eye(design.shape[2])
    coef = np.linalg.solve(normal, np.einsum("dpm,p->dm", design, y)[..., None])[..., 0]
    resid = y[None] - np.einsum("dpm,dm->dp", design, coef)
    return np.sum(resid**2, axis=1), coef[:, 2:]


def _best_shift(
    fit, n_points: int = 0, n_free: int = 0, noise: float | None = None
) -> tuple[float, np.ndarray | None, float]:
    """The shift (pixels, within +-1.5) that minimises ``fit(shifts) -> (chi2, extra)``,
    ``extra`` there, and the shift's standard error (pixels) from the curvature of the sum
    of squares, with each point's ``noise`` if known, else the scatter of the residuals of
    ``n_points`` with ``n_free`` parameters (NaN without them): a scan, then parabolic
    refinements. NaN at the scan's edge."""
    shifts = np.linspace(-1.5, 1.5, 25)
    chi2, extra = fit(shifts)
    best = int(np.argmin(chi2))
    if best in (0, len(shifts) - 1):
        return np.nan, None, np.nan
    shift, step = float(shifts[best]), float(shifts[1] - shifts[0])
    extra = extra[best : best + 1]
    error = np.nan
    for _ in range(3):
        step /= 4
        chi2, extra3 = fit(shift + np.array([-step, 0.0, step]))
        extra = extra3[1:2]
        curvature = chi2[0] - 2 * chi2[1] + chi2[2]
        if curvature <= 0:
            break
        shift += 0.5 * step * (chi2[0] - chi2[2]) / curvature
        if noise is not None or n_points > n_free:  # Var = 2 s^2 / (d2 chi2 / d shift2)
            s2 = noise**2 if noise is not None else chi2[1] / (n_points - n_free)
            error = float(np.sqrt(2 * s2 / (curvature / step**2)))
    return shift, extra[0], error


def _line_shift(
    x: np.ndarray, y: np.ndarray, centres: np.ndarray, sigma: float, own: np.ndarray
) -> tuple[float, float]:
    """Shift (pixels) of the listed lines ``centres`` that fits ``y`` best, and the summed
    amplitude of the lines ``own`` (indices) there."""
    shift, amp, _ = _best_shift(lambda shifts: _line_fit(x, y, centres, sigma, shifts))
    return shift, 0.0 if amp is None else float(amp[own].sum())


def absolute_offset(
    sky: np.ndarray,
    grid: np.ndarray,
    lines: np.ndarray,
    min_lines: int = 3,
    with_error: bool = False,
) -> float | tuple[float, float]:
    """Apparent minus true wavelength (Angstrom) of the listed lines in ``sky`` on ``grid``
    (with ``with_error``, and its standard error).

    Listed lines closer than 1.5 line widths (sigma, measured on the sky's own peaks) are
    one blend. Around each blend (+-3 sigma) the sky is fitted by a straight baseline and
    Gaussians at every listed position within reach, with free amplitudes and one common
    shift; the median shift over blends brighter than 10x the noise is the offset. The
    list fixes where the neighbours are, so their wings cannot pull the line: centroids on
    a baseline through the window's ends read Hector's dense 1000R sky 0.035 pixel short,
    and 0.017 pixel on a noiseless one. Single lines are used when five or more pass; else
    blends count too (their members' amplitudes trade with each other, not with the shift,
    but a width misread shifts them: 0.018 pixel on Hector's sky): at 385R's 1.6 A per
    pixel a small frame's sky has nearly no single lines.
    """
    step = float(grid[1] - grid[0])
    clean = np.nan_to_num(sky)
    peaks, _ = find_peaks(clean, prominence=10 * np.sqrt(max(np.median(clean), 1.0)))
    if len(peaks) < min_lines:
        return (np.nan, np.nan) if with_error else np.nan
    sigma = float(np.median(peak_widths(clean, peaks, rel_height=0.5)[0])) / 2.355
    positions = np.sort((lines - grid[0]) / step)
    blends = np.split(positions, np.flatnonzero(np.diff(positions) > 1.5 * sigma) + 1)
    reach = 4 * sigma
    found: dict[bool, list[float]] = {True: [], False: []}  # single line or not -> shifts
    for blend in blends:
        x = np.arange(round(blend[0] - 3 * sigma), round(blend[-1] + 3 * sigma) + 1)
        if x[0] < 0 or x[-1] >= len(sky) or not np.all(np.isfinite(sky[x])):
            continue
        near = positions[(positions > x[0] - reach) & (positions < x[-1] + reach)]
        members = np.flatnonzero((near >= blend[0]) & (near <= blend[-1]))
        shift, amplitude = _line_shift(x.astype(float), sky[x], near, sigma, members)
        noise = np.sqrt(max(float(np.min(sky[x])), 1.0))  # Poisson, from the continuum
        if np.isfinite(shift) and amplitude > 10 * noise:
            found[len(blend) == 1].append(shift)
    # single lines when there are enough: a blend's fit leans on the measured width
    shifts = found[True] if len(found[True]) >= 5 else found[True] + found[False]
    if len(shifts) < min_lines:
        return (np.nan, np.nan) if with_error else np.nan
    offset = float(np.median(shifts)) * step
    # the standard error of a median: 1.25 times the mean's
    error = 1.2533 * float(np.std(shifts, ddof=1)) / np.sqrt(len(shifts)) * step
    return (offset, error) if with_error else offset


def _template_shift(
    x: np.ndarray,
    y: np.ndarray,
    centres: np.ndarray,
    strengths: np.ndarray,
    sigma: float,
    noise: float | None = None,
) -> tuple[float, float, float]:
    """Shift (pixels) of the sky template (Gaussians of ``sigma`` at ``centres`` with their
    relative ``strengths``) that fits ``y`` best over a baseline, the template's fitted
    scale, and the shift's standard error (pixels; from ``noise`` per point if known):
    a scan, then parabolic refinements."""
    ramp = (x - x.mean()) / max(np.ptp(x), 1)

    def fit(shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = (
            np.exp(
                -0.5
                * ((x[None, :, None] - centres[None, None, :] - shifts[:, None, None]) / sigma) ** 2
            )
            @ strengths
        )
        design = np.stack(
            [np.broadcast_to(np.ones_like(ramp), t.shape), np.broadcast_to(ramp, t.shape), t],
            axis=-1,
        )
        normal = np.einsum("dpm,dpk->dmk", design, design) + 1e-9 * np.eye(3)
        coef = np.linalg.solve(normal, np.einsum("dpm,p->dm", design, y)[..., None])[..., 0]
        resid = y[None] - np.einsum("dpm,dm->dp", design, coef)
        return np.sum(resid**2, axis=1), coef[:, 2]

    shift, scale, error = _best_shift(fit, len(x), 4, noise)
    return shift, 0.0 if scale is None else float(scale), error


def template_offset(
    sky: np.ndarray,
    grid: np.ndarray,
    lines: np.ndarray,
    strengths: np.ndarray,
    sky_noise: np.ndarray | None = None,
) -> tuple[float, int, float]:
    """Apparent minus true wavelength (Angstrom) of a sky whose lines and their relative
    strengths are known, the number of features it rests on, and its standard error
    (Angstrom: the features' errors, from the sky's noise per pixel, ``sky_noise``, when known, else
    from each fit's residuals; scaled up when the features disagree by more than that).

    The sky model drawn at the sky's own line width is fitted, with a free scale and
    baseline and one shift, around each of its peaks (+-4 sigma); the shifts' mean, weighted
    by signal to noise and clipped at 3 sigma, is the offset. Within a window the lines
    keep their relative strengths, so an unresolved blend is one known shape and a weak
    neighbour is where the model puts it: a list without strengths, whose lines a real sky
    only partly shows, let each line's fit scatter by 0.1–0.5 pixel on a 385R sky; this
    fit by 0.03–0.05.
    """
    step = float(grid[1] - grid[0])
    clean = np.nan_to_num(sky)
    peaks, _ = find_peaks(clean, prominence=10 * np.sqrt(max(np.median(clean), 1.0)))
    if len(peaks) == 0:
        return np.nan, 0, np.nan
    sigma = float(np.median(peak_widths(clean, peaks, rel_height=0.5)[0])) / 2.355
    pos = (np.asarray(lines, float) - grid[0]) / step
    keep = (pos > -6 * sigma) & (pos < len(sky) + 6 * sigma)
    pos, strengths = pos[keep], np.asarray(strengths, float)[keep]
    if not len(pos):
        return np.nan, 0, np.nan
    x_all = np.arange(len(sky), dtype=float)
    model = np.zeros(len(sky))
    for p, f in zip(pos, strengths, strict=True):
        near = slice(max(int(p - 5 * sigma), 0), max(int(p + 5 * sigma) + 1, 0))
        model[near] += f * np.exp(-0.5 * ((x_all[near] - p) / sigma) ** 2)
    features, _ = find_peaks(model, prominence=0.02 * model.max())
    half, reach = round(4 * sigma), 6 * sigma
    shifts, weights, errors = [], [], []
    for c in features:
        x = np.arange(max(c - half, 0), min(c + half + 1, len(sky)))
        if len(x) < 5 or not np.all(np.isfinite(sky[x])):
            continue
        near = (pos > x[0] - reach) & (pos < x[-1] + reach)
        level = None if sky_noise is None else float(np.sqrt(np.nanmean(sky_noise[x] ** 2)))
        shift, scale, error = _template_shift(
            x.astype(float), sky[x], pos[near], strengths[near], sigma, level
        )
        noise = np.sqrt(max(float(np.min(sky[x])), 1.0))
        signal = scale * model[c]
        if np.isfinite(shift) and signal > 10 * noise:
            shifts.append(shift)
            weights.append(signal / noise)
            errors.append(error)
    if not shifts:
        return np.nan, 0, np.nan
    shifts, weights, errors = np.array(shifts), np.array(weights), np.array(errors)
    if np.all(errors > 0):  # known errors weigh each feature as it deserves
        weights = errors**-2.0
    centre = np.median(shifts)
    spread = 1.4826 * np.median(np.abs(shifts - centre))
    use = np.abs(shifts - centre) <= 3 * max(spread, 0.01)
    offset = float(np.sum(shifts[use] * weights[use]) / np.sum(weights[use]))
    error = _combined_error(shifts[use], weights[use], errors[use])
    return offset * step, int(use.sum()), error * step


def _combined_error(values: np.ndarray, weights: np.ndarray, errors: np.ndarray) -> float:
    """Standard error of the ``weights``-weighted mean of ``values`` whose own errors are
    ``errors``, scaled up by the Birge ratio when they disagree by more than those say."""
    w = weights / weights.sum()
    stated = float(np.sqrt(np.nansum((w * errors) ** 2)))
    if len(values) < 2 or not np.all(errors > 0):
        return stated
    mean = float(np.sum(w * values))
    birge = float(np.sum(((values - mean) / errors) ** 2)) / (len(values) - 1)
    return stated * max(np.sqrt(birge), 1.0)


@dataclass
class SkyLineCorrection:
    """What the sky lines say of each fibre's wavelengths: ``offsets`` (Angstrom, apparent
    minus true; NaN where not measured), the sky ``features`` the zero point rests on, the
    correction's standard ``error`` (Angstrom: the zero point's and the fit along the
    slit's) and the ``order`` of that fit (0: one shift for the whole slit)."""

    offsets: np.ndarray
    features: int
    error: float = np.nan
    order: int = -1

    @property
    def found(self) -> bool:
        return bool(np.isfinite(self.offsets).any())

    @property
    def worth_applying(self) -> bool:
        """Whether correcting is expected to do better than the arc alone: the correction's
        error is smaller than the shifts it would remove."""
        if not self.found:
            return False
        size = float(np.sqrt(np.nanmean(self.offsets**2)))
        return bool(np.isfinite(self.error) and self.error < size)


def sky_line_offsets(
    spectra: np.ndarray,
    grid: np.ndarray,
    lines: np.ndarray,
    fibres: np.ndarray,
    sky_fibres: np.ndarray,
    order: int = 2,
    strengths: np.ndarray | None = None,
) -> SkyLineCorrection:
    """Wavelength offsets (Angstrom, apparent minus true) of every fibre in ``fibres``.

    ``spectra`` are on the linear ``grid`` before sky subtraction; the median of
    ``sky_fibres`` is the sky reference. With the lines' relative ``strengths`` the sky's
    zero point is `template_offset`'s, else `absolute_offset`'s. Along the slit the shifts
    are fitted by a polynomial of degree up to ``order``: the lowest whose next degree
    does not improve the fit by 3 sigma, so a blue arm with only [OI] 5577 and a few faint
    features fits one shift, and a red arm with many lines follows the slit's tilt and bend.
    Offsets are all NaN when the sky lines cannot fix them.
    """
    step = float(grid[1] - grid[0])
    offsets = np.full(spectra.shape[0], np.nan)
    inside = lines[(lines > grid[0]) & (lines < grid[-1])]
    idx = np.flatnonzero(fibres)
    if len(inside) < 3 or len(idx) <= order + 2 or not sky_fibres.any():
        return SkyLineCorrection(offsets, len(inside))
    sky = np.nanmedian(spectra[sky_fibres], axis=0)
    if strengths is not None:
        zero, used, zero_error = template_offset(
            sky, grid, lines, strengths, _median_noise(spectra[sky_fibres])
        )
    else:
        (zero, zero_error), used = absolute_offset(sky, grid, lines, with_error=True), len(inside)
    if not np.isfinite(zero):
        return SkyLineCorrection(offsets, used)
    # the sky fibres alone fix the smooth shift along the slit when there are enough of
    # them (2dF has ~40, Hector ~80): a galaxy's light adds only noise, and measuring 800
    # fibres took 0.2 s of a Hector frame's second
    measured = np.flatnonzero(fibres & sky_fibres)
    if len(measured) < 10:
        measured = idx
    relative, error = relative_shifts(spectra[measured], sky)
    fit = _along_slit(measured.astype(float), relative, error, order)
    # relative shifts are from the sky fibres' median, which the line fit placed at zero
    offsets[idx] = fit.at(idx.astype(float)) * step + zero
    slit_error = float(np.sqrt(np.mean(fit.variance_at(idx.astype(float))))) * step
    total = float(np.hypot(zero_error, slit_error)) if np.isfinite(zero_error) else np.nan
    return SkyLineCorrection(offsets, used, total, fit.order)


def _median_noise(spectra: np.ndarray) -> np.ndarray | None:
    """The noise (per pixel) of the median of ``spectra``, from their spread: 1.25 times
    the mean's. None for fewer than five."""
    n = int(np.isfinite(spectra).all(axis=1).sum())
    if n < 5:
        return None
    with np.errstate(invalid="ignore"):
        spread = 1.4826 * np.nanmedian(np.abs(spectra - np.nanmedian(spectra, axis=0)), axis=0)
    return 1.2533 * spread / np.sqrt(n)


@dataclass
class _SlitFit:
    coef: np.ndarray
    covariance: np.ndarray

    @property
    def order(self) -> int:
        return len(self.coef) - 1

    def at(self, slit: np.ndarray) -> np.ndarray:
        return np.polynomial.polynomial.polyval(slit, self.coef)

    def variance_at(self, slit: np.ndarray) -> np.ndarray:
        basis = np.vander(slit, len(self.coef), increasing=True)
        return np.einsum("ij,jk,ik->i", basis, self.covariance, basis)


def _along_slit(slit: np.ndarray, shift: np.ndarray, error: np.ndarray, max_order: int) -> _SlitFit:
    """The shifts along the slit, weighted and clipped at 4 sigma: a polynomial of the
    lowest degree (up to ``max_order``) that the next does not beat by a chi-square of 9."""
    keep = np.isfinite(error) & (error > 0) & np.isfinite(shift)
    weight = np.where(keep, 1.0 / np.where(keep, error, 1.0), 0.0)
    for _ in range(5):  # the outliers, from the fullest fit
        coef = np.polynomial.polynomial.polyfit(slit[keep], shift[keep], max_order, w=weight[keep])
        pull = (shift - np.polynomial.polynomial.polyval(slit, coef)) * weight
        new = keep & (np.abs(pull) < 4)
        if np.array_equal(new, keep):
            break
        keep = new
    x, y, w = slit[keep], shift[keep], weight[keep]
    chi2 = []
    for degree in range(max_order + 1):
        c = np.polynomial.polynomial.polyfit(x, y, degree, w=w)
        chi2.append(float(np.sum(((y - np.polynomial.polynomial.polyval(x, c)) * w) ** 2)))
    # in units of the fullest fit's scatter when the stated errors understate it
    noise = max(chi2[max_order] / max(len(x) - max_order - 1, 1), 1.0)
    degree = next((d for d in range(max_order) if (chi2[d] - chi2[d + 1]) / noise < 9.0), max_order)
    basis = np.vander(x, degree + 1, increasing=True) * w[:, None]
    coef, *_ = np.linalg.lstsq(basis, y * w, rcond=None)
    # errors as the shifts say, scaled up when they scatter more than that
    scale = max(chi2[degree] / max(len(x) - degree - 1, 1), 1.0)
    return _SlitFit(coef, np.linalg.inv(basis.T @ basis) * scale)
