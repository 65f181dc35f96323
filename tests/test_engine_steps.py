"""The built-in engine's first steps against the simulator's truth (small frames)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from astropy.io import fits

from hectornb.reduce.engine import TramlineError, extract, find_tramlines, preprocess
from hectornb.simulate import simulate_night


@pytest.fixture(scope="module", params=["2df", "hector"])
def flat(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    paths = simulate_night(out, date=dt.date(2025, 8, 27), instrument=request.param,
                           fields=1, exposures=1, size="small", seed=11)  # fmt: skip
    path = next(p for p in paths if fits.getheader(p)["NDFCLASS"] == "MFFFF")
    truth = np.load(path.with_name(path.stem + "_truth.npz"))
    return fits.getdata(path), fits.getheader(path), fits.getdata(path, "FIBRES"), truth


def test_preprocess_removes_bias_and_converts_to_electrons(flat):
    raw, header, _, truth = flat
    image = preprocess(raw, header)
    assert image.data.shape == (header["WINDOYE1"], header["WINDOXE1"])
    # rows far from any fibre hold only read noise, around zero (the hot column aside)
    empty = np.delete(image.data[:3], int(truth["bad_column"]), axis=1)
    assert abs(np.mean(empty)) < 0.5
    assert np.std(empty) == pytest.approx(header["RO_NOISE"], rel=0.2)
    assert np.all(image.variance >= header["RO_NOISE"] ** 2 - 1e-9)


def test_tramlines_find_and_identify_every_lit_fibre(flat):
    raw, header, fibres, truth = flat
    tl = find_tramlines(preprocess(raw, header).data, fibres["TYPE"])
    assert np.array_equal(tl.lit, fibres["TYPE"] != "N")
    err = tl.centres[tl.lit] - truth["trace"][tl.lit]
    # comparing fibre i with truth fibre i: a swap would show as an error of one pitch
    assert np.sqrt(np.mean(err**2)) < 0.06
    assert np.abs(err).max() < 0.5
    assert np.all(np.isnan(tl.centres[~tl.lit]))
    assert tl.sigma == pytest.approx(1.1, rel=0.05)


def test_extraction_recovers_flux_with_honest_variance(flat):
    raw, header, fibres, truth = flat
    image = preprocess(raw, header)
    tl = find_tramlines(image.data, fibres["TYPE"])
    flux, var = extract(image, tl)
    expect = truth["spectra"] * truth["throughput"][:, None]
    good = np.ones(flux.shape[1], bool)
    good[int(truth["bad_column"])] = False  # the simulated hot column
    lit = tl.lit
    assert np.median((flux / expect)[lit][:, good]) == pytest.approx(1.0, abs=0.01)
    pull = ((flux - expect) / np.sqrt(var))[lit][:, good]
    assert abs(np.median(pull)) < 0.1
    assert 1.4826 * np.median(np.abs(pull - np.median(pull))) == pytest.approx(1.0, abs=0.1)
    assert np.all(np.isnan(flux[~lit]))


def test_a_flat_that_does_not_match_the_fibre_table_is_a_clear_error(flat):
    raw, header, fibres, _ = flat
    types = np.array(fibres["TYPE"])
    types[types == "N"] = "P"  # claim the broken fibres carry light
    with pytest.raises(TramlineError, match="fibre traces found, the fibre table has"):
        find_tramlines(preprocess(raw, header).data, types)
