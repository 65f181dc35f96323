"""The simulator's night sky against the real AAOmega skies in the shipped 2dfdr products.

The real products (`hectornb/data/aaomega-2dfdr-reduced`) are 580V + 385R spliced at
1.04 Å/pixel; their ``SKY`` extensions are 2dfdr's combined sky of real 2dF nights. The
simulated sky is drawn on each arm's own pixels at its resolution, for many exposures'
conditions, and must show the same statistics within the bounds stated here.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import percentile_filter

from hectornb.instrument import GRATINGS
from hectornb.simulate.sky import conditions, line_fwhm, night_sky, sky_lines
from hectornb.spectra import read
from hectornb.spectra.products import EXAMPLES

REAL = ("emlLinearSkyAirHelio.fits", "quasarLinearSkyAirNoHelio.fits")  # two real nights


def statistics(blue: tuple, red: tuple) -> dict[str, float]:
    """The comparison's figures from a sky seen by the blue and red arms ((wave, sky) each;
    one spliced spectrum may be passed as both)."""
    (wb, sb), (wr, sr) = blue, red
    cont = np.median(sb[(wb > 4600) & (wb < 5400)])
    window = (wb > 5000) & (wb < 5800)
    peak_5577 = sb[np.abs(wb - 5577.3) < 4].max()
    peak_6300 = sr[np.abs(wr - 6300.3) < 4].max()
    inside = (wb > 4000) & (wb < 5500)
    # the continuum under the lines: a running 20th percentile over ~50 Å
    step = float(np.median(np.diff(wb)))
    under = percentile_filter(sb, 20, size=int(50 / step) | 1, mode="nearest")
    return {
        "brightest_5000_5800": float(wb[window][np.argmax(sb[window])]),
        "oi5577_over_continuum": float(peak_5577 / cont),
        "oi6300_over_oi5577": float(peak_6300 / peak_5577),
        "line_share_4000_5500": float(1 - under[inside].sum() / sb[inside].sum()),
    }


def real_statistics(name: str) -> dict[str, float]:
    frame = read(EXAMPLES / name)
    wave = np.asarray(frame.fibre_wavelength(0).value)
    sky = frame.sky if frame.sky.ndim == 1 else frame.sky[0]
    good = np.isfinite(sky)
    return statistics((wave[good], sky[good]), (wave[good], sky[good]))


def arm(grating: str, sky) -> tuple[np.ndarray, np.ndarray]:
    """The sky per Å on a 2dF arm's pixels, as the spliced real products hold it (2dfdr
    resamples both arms to one grid, so a peak there is per Å, not per native pixel)."""
    g = GRATINGS[grating]
    wave = g.central_wavelength + g.dispersion * (np.arange(2048) - 1024)
    return wave, night_sky(wave, line_fwhm(g.dispersion), sky)


#: What a real 2dF sky shows (two nights), and the bounds a simulated exposure must keep.
BOUNDS = {
    "oi5577_over_continuum": (30.0, 100.0),  # real: 45, 65
    "oi6300_over_oi5577": (0.15, 0.50),  # real: 0.25, 0.33
    "line_share_4000_5500": (0.03, 0.12),  # real: 0.05, 0.08
}


def test_the_real_skies_are_what_the_bounds_describe():
    for name in REAL:
        found = real_statistics(name)
        assert abs(found["brightest_5000_5800"] - 5577.3) < 1.5, (name, found)
        for key, (lo, hi) in BOUNDS.items():
            assert lo <= found[key] <= hi, (name, key, found[key])


@pytest.mark.parametrize("moon", ["dark", "grey"])
def test_simulated_skies_look_like_the_real_ones_through_a_night(moon):
    rng = np.random.default_rng(7)
    seen = []
    for hours in np.linspace(0, 9, 12):
        sky = conditions(rng, hours, moon)
        found = statistics(arm("580V", sky), arm("385R", sky))
        seen.append(found)
        # 5577, not a forest of equal lines, is the blue arm's brightest sky line
        assert abs(found["brightest_5000_5800"] - 5577.3) < 1.0, found
        for key, (lo, hi) in BOUNDS.items():
            if moon == "grey" and key == "oi5577_over_continuum":
                lo /= 3.5  # moonlight lifts the continuum under the line
            assert lo <= found[key] <= hi, (hours, key, found[key])
    # the night varies: [OI] and OH change between exposures, independently
    ratio = [s["oi6300_over_oi5577"] for s in seen]
    assert np.std(ratio) / np.mean(ratio) > 0.1


def test_oh_and_oxygen_vary_independently_between_exposures():
    rng = np.random.default_rng(3)
    skies = [conditions(rng, h) for h in np.linspace(0, 9, 40)]
    oh = np.array([s.oh for s in skies])
    green = np.array([s.oi_green for s in skies])
    assert oh[:5].mean() > oh[-5:].mean()  # OH fades through the night
    assert abs(np.corrcoef(oh, green)[0, 1]) < 0.5
    assert np.std(oh) / np.mean(oh) > 0.05


def test_sky_lines_sit_at_their_laboratory_air_wavelengths():
    wave, strength = sky_lines()
    for lab in (5577.338, 6300.304, 6363.780, 5889.950, 5895.924):
        near = np.abs(wave - lab) < 1.0
        nearest = wave[near][np.argmax(strength[near])]
        assert abs(nearest - lab) < 0.02, (lab, nearest)
    # the OH lines the engine and 2dfdr measure flexure on are there too (air, Å)
    for lab in (6863.955, 8344.602, 8399.170):
        assert np.min(np.abs(wave - lab)) < 0.05, lab


def test_lines_are_as_wide_as_each_grating_resolves_them():
    g = GRATINGS["1000R"]
    wave = np.arange(6250.0, 6350.0, g.dispersion / 4)
    sky = night_sky(wave, line_fwhm(g.dispersion, "hector"))
    line = sky - np.median(sky)
    above = wave[line > line.max() / 2]
    fwhm = above.max() - above.min()
    assert fwhm == pytest.approx(2.5 * g.dispersion, rel=0.1)
