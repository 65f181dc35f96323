"""The simulated arc lamps (NIST line ratios) and what the engine does with a real lamp's
blends: lines the list leaves out are fitted and taken off before a line is centred."""

from __future__ import annotations

import numpy as np
import pytest

from hectornb.instrument import arc_atlas, lamp_lines, lamps_named, line_list
from hectornb.reduce.builtin.wavelength import line_amplitudes, line_centres, narrow_spikes
from hectornb.simulate.lamps import arc_lamp_lines


def test_lamps_are_read_from_the_header_as_the_aat_writes_them():
    assert lamps_named("CuAr FeAr") == ("CuAr", "FeAr")
    assert lamps_named("ARC - CuAr_1 FeAr_1") == ("CuAr", "FeAr")
    assert lamps_named("ThAr") == () and lamps_named("") == ()


def test_the_simulated_arc_keeps_nist_ratios_and_shows_what_no_list_names():
    wave, strength = arc_lamp_lines(("CuAr",))
    nist_wave, intensity, species = lamp_lines(("CuAr",))
    ar = species == "ArI"
    simulated = np.array([strength[np.argmin(np.abs(wave - w))] for w in nist_wave[ar]])
    # within one spectrum the lamp follows NIST (scattered by 0.15 dex)
    assert np.corrcoef(np.log10(simulated), np.log10(intensity[ar]))[0, 1] > 0.9
    # the red arm's brightest lines are NIST's brightest Ar I lines (8115, 9123, 7635 Å...)
    red = (wave > 6000) & (wave < 9800)
    brightest = wave[red][np.argsort(strength[red])[-3:]]
    strong = nist_wave[ar][intensity[ar] >= 15000]
    assert all(np.abs(strong - w).min() < 0.05 for w in brightest)
    # lines that neither NIST's list nor IRAF's names: the engine cannot know them
    known = arc_atlas(("CuAr",))
    unknown = np.array([np.abs(known - w).min() > 0.05 for w in wave])
    assert unknown.sum() >= 30
    # every line of IRAF's list that falls in NIST's range is lit
    iraf = line_list("cuar.dat")
    iraf = iraf[(iraf > nist_wave.min()) & (iraf < nist_wave.max())]
    assert all(np.abs(wave - w).min() < 0.05 for w in iraf)


def test_a_listed_line_beside_an_unlisted_one_is_centred_once_its_neighbour_is_off():
    x = np.arange(200, dtype=float)
    sigma = 1.3  # pixels: 3.1 pixel FWHM, as 2dF's lines
    listed, unlisted = 100.2, 103.3  # a neighbour one FWHM away, half as bright
    spectrum = 1000 * np.exp(-0.5 * ((x - listed) / sigma) ** 2) + 500 * np.exp(
        -0.5 * ((x - unlisted) / sigma) ** 2
    )
    plain = line_centres(spectrum, np.array([listed]), sigma)[0]
    assert abs(plain - listed) > 0.1  # pulled towards the neighbour
    heights = line_amplitudes(spectrum, np.array([listed, unlisted]), sigma)
    assert heights == pytest.approx([1000, 500], rel=1e-3)
    neighbours = (np.array([[unlisted]]), np.array([[heights[1]]]))
    deblended = line_centres(spectrum, np.array([listed]), sigma, neighbours)[0]
    assert deblended == pytest.approx(listed, abs=0.005)


def test_a_hot_column_is_not_an_arc_line():
    x = np.arange(300, dtype=float)
    spectrum = 800 * np.exp(-0.5 * ((x - 120.4) / 1.3) ** 2) + 5.0
    spectrum[200] += 3000.0  # one column, as a hot column leaves in every fibre
    spikes = narrow_spikes(spectrum, noise=3.0)
    assert spikes[199:202].all() and spikes.sum() == 3
    assert not spikes[110:130].any()
