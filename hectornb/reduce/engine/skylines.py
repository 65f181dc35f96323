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
3. the offsets are smoothed along the slit (a quadratic, weighted, sigma-clipped): the
   spectrograph moves as a whole, and a faint fibre should not decide its own wavelengths.
   With ten or more sky fibres only they are measured.
"""

from __future__ import annotations

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


def relative_shifts(spectra: np.ndarray, reference: np.ndarray,
                    iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
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
        use = np.abs(resid) < 4 * noise[:, None]
    return shift, error


def _line_fit(x: np.ndarray, y: np.ndarray, centres: np.ndarray, sigma: float,
              shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Squared residuals and amplitudes of the best fit of ``y`` at pixels ``x`` by a
    straight baseline plus Gaussians at ``centres`` + each shift (one row per shift)."""
    g = np.exp(-0.5 * ((x[None, :, None] - centres[None, None, :] - shifts[:, None, None])
                       / sigma) ** 2)  # fmt: skip
    ramp = (x - x.mean()) / max(np.ptp(x), 1)
    base = np.broadcast_to(np.stack([np.ones_like(ramp), ramp], axis=-1), (len(shifts), len(x), 2))
    design = np.concatenate([base, g], axis=2)
    normal = np.einsum("dpm,dpk->dmk", design, design) + 1e-9 * np.eye(design.shape[2])
    coef = np.linalg.solve(normal, np.einsum("dpm,p->dm", design, y)[..., None])[..., 0]
    resid = y[None] - np.einsum("dpm,dm->dp", design, coef)
    return np.sum(resid**2, axis=1), coef[:, 2:]


def _best_shift(fit) -> tuple[float, np.ndarray | None]:
    """The shift (pixels, within +-1.5) that minimises ``fit(shifts) -> (chi2, extra)``, and
    ``extra`` there: a scan, then parabolic refinements. NaN at the scan's edge."""
    shifts = np.linspace(-1.5, 1.5, 25)
    chi2, extra = fit(shifts)
    best = int(np.argmin(chi2))
    if best in (0, len(shifts) - 1):
        return np.nan, None
    shift, step = float(shifts[best]), float(shifts[1] - shifts[0])
    extra = extra[best:best + 1]
    for _ in range(3):
        step /= 4
        chi2, extra3 = fit(shift + np.array([-step, 0.0, step]))
        extra = extra3[1:2]
        curvature = chi2[0] - 2 * chi2[1] + chi2[2]
        if curvature <= 0:
            break
        shift += 0.5 * step * (chi2[0] - chi2[2]) / curvature
    return shift, extra[0]


def _line_shift(x: np.ndarray, y: np.ndarray, centres: np.ndarray, sigma: float,
                own: np.ndarray) -> tuple[float, float]:  # fmt: skip
    """Shift (pixels) of the listed lines ``centres`` that fits ``y`` best, and the summed
    amplitude of the lines ``own`` (indices) there."""
    shift, amp = _best_shift(lambda shifts: _line_fit(x, y, centres, sigma, shifts))
    return shift, 0.0 if amp is None else float(amp[own].sum())


def absolute_offset(sky: np.ndarray, grid: np.ndarray, lines: np.ndarray,
                    min_lines: int = 3) -> float:  # fmt: skip
    """Apparent minus true wavelength (Angstrom) of the listed lines in ``sky`` on ``grid``.

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
        return np.nan
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
    return float(np.median(shifts)) * step if len(shifts) >= min_lines else np.nan


def _template_shift(x: np.ndarray, y: np.ndarray, centres: np.ndarray, strengths: np.ndarray,
                    sigma: float) -> tuple[float, float]:  # fmt: skip
    """Shift (pixels) of the sky template (Gaussians of ``sigma`` at ``centres`` with their
    relative ``strengths``) that fits ``y`` best over a baseline, and the template's fitted
    scale: a scan, then parabolic refinements."""
    ramp = (x - x.mean()) / max(np.ptp(x), 1)

    def fit(shifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.exp(-0.5 * ((x[None, :, None] - centres[None, None, :] - shifts[:, None, None])
                           / sigma) ** 2) @ strengths  # fmt: skip
        design = np.stack([np.broadcast_to(np.ones_like(ramp), t.shape),
                           np.broadcast_to(ramp, t.shape), t], axis=-1)  # fmt: skip
        normal = np.einsum("dpm,dpk->dmk", design, design) + 1e-9 * np.eye(3)
        coef = np.linalg.solve(normal, np.einsum("dpm,p->dm", design, y)[..., None])[..., 0]
        resid = y[None] - np.einsum("dpm,dm->dp", design, coef)
        return np.sum(resid**2, axis=1), coef[:, 2]

    shift, scale = _best_shift(fit)
    return shift, 0.0 if scale is None else float(scale)


def template_offset(sky: np.ndarray, grid: np.ndarray, lines: np.ndarray,
                    strengths: np.ndarray) -> tuple[float, int]:  # fmt: skip
    """Apparent minus true wavelength (Angstrom) of a sky whose lines and their relative
    strengths are known, and the number of features it rests on.

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
        return np.nan, 0
    sigma = float(np.median(peak_widths(clean, peaks, rel_height=0.5)[0])) / 2.355
    pos = (np.asarray(lines, float) - grid[0]) / step
    keep = (pos > -6 * sigma) & (pos < len(sky) + 6 * sigma)
    pos, strengths = pos[keep], np.asarray(strengths, float)[keep]
    if not len(pos):
        return np.nan, 0
    x_all = np.arange(len(sky), dtype=float)
    model = np.zeros(len(sky))
    for p, f in zip(pos, strengths, strict=True):
        near = slice(max(int(p - 5 * sigma), 0), max(int(p + 5 * sigma) + 1, 0))
        model[near] += f * np.exp(-0.5 * ((x_all[near] - p) / sigma) ** 2)
    features, _ = find_peaks(model, prominence=0.02 * model.max())
    half, reach = round(4 * sigma), 6 * sigma
    shifts, weights = [], []
    for c in features:
        x = np.arange(max(c - half, 0), min(c + half + 1, len(sky)))
        if len(x) < 5 or not np.all(np.isfinite(sky[x])):
            continue
        near = (pos > x[0] - reach) & (pos < x[-1] + reach)
        shift, scale = _template_shift(x.astype(float), sky[x], pos[near], strengths[near], sigma)
        noise = np.sqrt(max(float(np.min(sky[x])), 1.0))
        signal = scale * model[c]
        if np.isfinite(shift) and signal > 10 * noise:
            shifts.append(shift)
            weights.append(signal / noise)
    if not shifts:
        return np.nan, 0
    shifts, weights = np.array(shifts), np.array(weights)
    centre = np.median(shifts)
    spread = 1.4826 * np.median(np.abs(shifts - centre))
    use = np.abs(shifts - centre) <= 3 * max(spread, 0.01)
    return float(np.sum(shifts[use] * weights[use]) / np.sum(weights[use])) * step, int(use.sum())


def sky_line_offsets(spectra: np.ndarray, grid: np.ndarray, lines: np.ndarray,
                     fibres: np.ndarray, sky_fibres: np.ndarray, order: int = 2,
                     strengths: np.ndarray | None = None) -> tuple[np.ndarray, int]:  # fmt: skip
    """Wavelength offset (Angstrom, apparent minus true) of every fibre in ``fibres``.

    ``spectra`` are on the linear ``grid`` before sky subtraction; the median of
    ``sky_fibres`` is the sky reference. With the lines' relative ``strengths`` the sky's
    zero point is `template_offset`'s, else `absolute_offset`'s. Returns the offsets (NaN
    outside ``fibres``, all NaN when the sky lines cannot fix them) and the number of
    lines (or, with strengths, sky features) the zero point rests on.
    """
    step = float(grid[1] - grid[0])
    offsets = np.full(spectra.shape[0], np.nan)
    inside = lines[(lines > grid[0]) & (lines < grid[-1])]
    idx = np.flatnonzero(fibres)
    if len(inside) < 3 or len(idx) <= order + 2 or not sky_fibres.any():
        return offsets, len(inside)
    sky = np.nanmedian(spectra[sky_fibres], axis=0)
    if strengths is not None:
        zero, used = template_offset(sky, grid, lines, strengths)
    else:
        zero, used = absolute_offset(sky, grid, lines), len(inside)
    if not np.isfinite(zero):
        return offsets, used
    # the sky fibres alone fix the smooth shift along the slit when there are enough of
    # them (2dF has ~40, Hector ~80): a galaxy's light adds only noise, and measuring 800
    # fibres took 0.2 s of a Hector frame's second
    measured = np.flatnonzero(fibres & sky_fibres)
    if len(measured) < 10:
        measured = idx
    relative, error = relative_shifts(spectra[measured], sky)
    slit = measured.astype(float)
    keep = np.isfinite(error) & (error > 0)
    weight = np.where(keep, 1.0 / np.where(keep, error, 1.0), 0.0)
    for _ in range(5):
        coef = np.polynomial.polynomial.polyfit(slit[keep], relative[keep], order, w=weight[keep])
        pull = (relative - np.polynomial.polynomial.polyval(slit, coef)) * weight
        new = keep & (np.abs(pull) < 4)
        if np.array_equal(new, keep):
            break
        keep = new
    # relative shifts are from the sky fibres' median, which the line fit placed at zero
    offsets[idx] = np.polynomial.polynomial.polyval(idx.astype(float), coef) * step + zero
    return offsets, used
