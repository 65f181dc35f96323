"""Sky corrections of the built-in engine on synthetic spectra with known answers:
PCA sky residuals (PCASKY) and the sky-line wavelength offsets (SKYSCRUNCH)."""

from __future__ import annotations

import numpy as np
import pytest

from hectornb.reduce.builtin.calibrate import subtract_sky
from hectornb.reduce.builtin.pcasky import pca_sky, sky_line_pixels
from hectornb.reduce.builtin.skylines import absolute_offset, relative_shifts

N_PIX = 2000
GRID = 6000.0 + 1.5 * np.arange(N_PIX)


def _sky_lines(rng, n=40):
    """Sky-line wavelengths at least 8 pixels apart, and their peak counts."""
    centres = np.sort(rng.choice(np.arange(20, N_PIX - 20, 8), n, replace=False))
    return GRID[centres] + rng.uniform(-0.7, 0.7, n), rng.uniform(200, 2000, n)


def _sky(lines, amps, shift_px=0.0, scale=1.0, sigma_px=1.2):
    x = (GRID - lines[:, None] - shift_px * 1.5) / (sigma_px * 1.5)
    return 50.0 + scale * (amps[:, None] * np.exp(-0.5 * x**2)).sum(axis=0)


def _frame(rng, lines, amps, n_sky=25, n_prog=50):
    """Sky-fibre and programme spectra whose sky differs a little in scale and position."""
    n = n_sky + n_prog
    slit = np.linspace(-1, 1, n)
    shifts = 0.08 * slit + rng.normal(0, 0.01, n)  # a tilt along the slit, pixels
    scales = 1 + rng.normal(0, 0.02, n)
    spectra = np.array([_sky(lines, amps, s, k) for s, k in zip(shifts, scales, strict=True)])
    galaxy = np.zeros((n, N_PIX))
    centres = (lines - GRID[0]) / 1.5
    free = np.array([p for p in range(100, N_PIX - 100) if np.abs(centres - p).min() > 25])
    at = free[len(free) // 2]  # an emission line well away from the sky lines
    galaxy[n_sky:] = 400.0 + 300.0 * np.exp(-0.5 * ((np.arange(N_PIX) - at) / 2.0) ** 2)
    truth = spectra + galaxy
    observed = truth + rng.normal(0, np.sqrt(truth))
    sky_fibres = np.arange(n) < n_sky
    return observed, galaxy, sky_fibres, shifts, at


def test_pca_sky_removes_line_residuals_and_keeps_the_galaxy():
    rng = np.random.default_rng(3)
    lines, amps = _sky_lines(rng)
    observed, galaxy, sky_fibres, _, at = _frame(rng, lines, amps)
    sub, _, sky = subtract_sky(observed, np.ones_like(observed), sky_fibres)
    cleaned, used = pca_sky(sub, sky, sky_fibres, n_components=5)
    assert used == 5
    at_lines = sky_line_pixels(sky)
    prog = ~sky_fibres
    before = np.sqrt(np.mean((sub - galaxy)[prog][:, at_lines] ** 2))
    after = np.sqrt(np.mean((cleaned - galaxy)[prog][:, at_lines] ** 2))
    noise = np.sqrt(np.mean(observed[prog][:, at_lines]))  # Poisson floor at the lines

    def excess(rms):  # the systematic part, above the noise
        return np.sqrt(max(rms**2 - noise**2, 0.0))

    # the sky fibres' own noise limits the components: 25 sky fibres take out ~45 %
    assert excess(after) < 0.65 * excess(before)
    # nothing changes away from the sky lines: the galaxy's emission line, its continuum
    assert not at_lines[at - 12 : at + 13].any()
    assert np.array_equal(cleaned[:, ~at_lines], sub[:, ~at_lines])
    assert np.median(cleaned[prog]) == pytest.approx(np.median(sub[prog]), rel=1e-3)


def test_pca_sky_needs_sky_fibres():
    rng = np.random.default_rng(4)
    lines, amps = _sky_lines(rng)
    observed, *_ = _frame(rng, lines, amps, n_sky=1, n_prog=10)
    sky_fibres = np.zeros(len(observed), bool)
    sky_fibres[0] = True
    cleaned, used = pca_sky(observed, observed[0], sky_fibres)
    assert used == 0 and np.array_equal(cleaned, observed)


def test_relative_shifts_recover_a_tilt_along_the_slit():
    rng = np.random.default_rng(5)
    lines, amps = _sky_lines(rng)
    observed, _, sky_fibres, shifts, _ = _frame(rng, lines, amps)
    measured, error = relative_shifts(observed, np.median(observed[sky_fibres], axis=0))
    reference = np.median(shifts[sky_fibres])
    # programme fibres carry a bright galaxy continuum; the shift is still measured
    assert np.abs(measured - (shifts - reference)).max() < 0.02
    assert np.all(error < 0.02)


@pytest.mark.parametrize("offset_px", [-0.6, 0.0, 0.35])
def test_absolute_offset_from_isolated_listed_lines(offset_px):
    rng = np.random.default_rng(6)
    lines, amps = _sky_lines(rng)
    sky = rng.normal(_sky(lines, amps, shift_px=offset_px) * 20, 100)  # bright, noisy
    assert absolute_offset(sky, GRID, lines) == pytest.approx(offset_px * 1.5, abs=0.03 * 1.5)
    assert np.isnan(absolute_offset(np.full(N_PIX, 50.0), GRID, lines))  # no lines, no answer


@pytest.mark.parametrize("offset_px", [0.0, 0.2])
def test_absolute_offset_unbiased_in_a_dense_line_forest(offset_px):
    """Hector's 1000R sky: lines 3 pixels wide, many with a listed neighbour inside the
    measuring window. Wings of neighbours must not pull the zero point (SKYSCRUNCH's
    target is 0.05 pixel per fibre, so the zero point needs to be well inside that)."""
    rng = np.random.default_rng(7)
    centres = np.sort(rng.choice(np.arange(30, N_PIX - 30, 4), 300, replace=False))
    lines = GRID[centres] + rng.uniform(-0.7, 0.7, len(centres))
    amps = rng.uniform(200, 2000, len(lines))
    sky = _sky(lines, amps, shift_px=offset_px, sigma_px=3.0) * 20  # bright, noiseless
    assert absolute_offset(sky, GRID, lines) / 1.5 == pytest.approx(offset_px, abs=0.005)


@pytest.mark.parametrize("offset_px", [-0.4, 0.15])
def test_template_offset_holds_with_blends_and_bands_that_vary(offset_px):
    """A sky like a real one: close blends everywhere and weak lines beside strong ones,
    its bands brighter or fainter than the template says (each by up to 30 %). The
    template, with the lines' relative strengths, fixes the zero point to 0.02 pixel."""
    from hectornb.reduce.builtin.skylines import template_offset

    rng = np.random.default_rng(8)
    lines = np.sort(GRID[20] + rng.uniform(0, 1.5 * (N_PIX - 40), 400))
    strengths = rng.lognormal(0, 1.5, len(lines))
    band = 1 + 0.3 * np.sin(lines / 180.0)  # bands vary on ~1000 Å scales
    x = (GRID[None, :] - lines[:, None] - offset_px * 1.5) / (1.4 * 1.5)
    sky = 50.0 + 40.0 * ((strengths * band)[:, None] * np.exp(-0.5 * x**2)).sum(axis=0)
    sky = rng.normal(sky, np.sqrt(sky))
    zero, used, error = template_offset(sky, GRID, lines, strengths)
    assert used >= 20
    assert zero / 1.5 == pytest.approx(offset_px, abs=0.02)
    # the stated error is honest: small, and the answer within 4 of it
    assert 0 < error / 1.5 < 0.02 and abs(zero / 1.5 - offset_px) < 4 * error / 1.5


def _one_line_slit(rng, shift_px, n_fibres=40, peak=400.0, tilt_px=0.0):
    """A blue arm's sky: one bright line ([OI] 5577's role) over a faint continuum, seen by
    ``n_fibres`` sky fibres all moved by ``shift_px`` (plus ``tilt_px`` end to end)."""
    line = GRID[N_PIX // 2] + 0.3
    slit = np.linspace(-0.5, 0.5, n_fibres)
    spectra = np.array(
        [_sky(np.array([line]), np.array([peak]), shift_px + tilt_px * t) for t in slit]
    )
    return rng.poisson(spectra).astype(float), np.array([line]), np.array([1.0])


def test_one_sky_line_fits_one_shift_for_the_slit_with_its_error():
    from hectornb.reduce.builtin.skylines import sky_line_offsets

    rng = np.random.default_rng(21)
    spectra, line, strength = _one_line_slit(rng, 0.4)
    every = np.ones(len(spectra), bool)
    lines = np.concatenate([line, GRID[[100, 1900]]])  # three listed, one seen
    found = sky_line_offsets(
        spectra, GRID, lines, every, every, strengths=np.concatenate([strength, [1e-3, 1e-3]])
    )
    assert found.order == 0  # one line cannot say how the slit tilts
    assert found.features == 1
    assert np.nanmedian(found.offsets) / 1.5 == pytest.approx(0.4, abs=0.03)
    assert 0 < found.error / 1.5 < 0.03 and found.worth_applying


def test_the_stated_error_matches_the_scatter_of_repeated_nights():
    """A faint line seen by 12 sky fibres: over 12 noise draws the offsets scatter as the
    stated errors say (within the spread a dozen draws allow)."""
    from hectornb.reduce.builtin.skylines import sky_line_offsets

    rng = np.random.default_rng(22)
    found = []
    for _ in range(12):
        spectra, line, strength = _one_line_slit(rng, 0.1, n_fibres=12, peak=250.0)
        every = np.ones(len(spectra), bool)
        lines = np.concatenate([line, GRID[[100, 1900]]])
        weak = np.concatenate([strength, [1e-3, 1e-3]])
        found.append(sky_line_offsets(spectra, GRID, lines, every, every, strengths=weak))
    shifts = np.array([np.nanmedian(f.offsets) for f in found])
    stated = np.median([f.error for f in found])
    assert 0.5 < np.std(shifts, ddof=1) / stated < 2.0
    assert np.mean(shifts) / 1.5 == pytest.approx(0.1, abs=3 * stated / 1.5)


def test_a_correction_no_surer_than_its_shift_is_not_applied():
    """Never worse than the arc alone: a correction is applied only when its error is
    smaller than the shifts it would remove."""
    from hectornb.reduce.builtin.skylines import SkyLineCorrection

    small = SkyLineCorrection(np.full(5, 0.01), features=1, error=0.03, order=0)
    large = SkyLineCorrection(np.full(5, 0.30), features=1, error=0.03, order=0)
    unknown = SkyLineCorrection(np.full(5, 0.30), features=1)  # no error, no trust
    assert not small.worth_applying and large.worth_applying and not unknown.worth_applying
    assert not SkyLineCorrection(np.full(5, np.nan), features=0).worth_applying


def test_many_sky_lines_follow_the_tilt_along_the_slit():
    from hectornb.reduce.builtin.skylines import sky_line_offsets

    rng = np.random.default_rng(23)
    lines, amps = _sky_lines(rng)
    n = 40
    slit = np.linspace(-0.5, 0.5, n)
    spectra = rng.poisson(np.array([_sky(lines, amps, 0.2 + 0.3 * t) for t in slit]))
    every = np.ones(n, bool)
    found = sky_line_offsets(spectra.astype(float), GRID, lines, every, every, strengths=amps)
    assert found.order >= 1  # the tilt is 0.3 pixel end to end, far above the noise
    assert np.allclose(found.offsets / 1.5, 0.2 + 0.3 * slit, atol=0.02)
    assert found.worth_applying
