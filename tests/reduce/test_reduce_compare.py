"""Regression comparison of two reductions of one frame (``hectornb reduce compare``)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from hectornb.reduce.compare import compare_products
from hectornb.reduce.run import reduce_night
from hectornb.simulate import simulate_night

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def two_reductions(tmp_path_factory):
    """One small night reduced with and without the sky-line wavelength correction."""
    tmp = tmp_path_factory.mktemp("compare")
    simulate_night(
        tmp / "raw", date=dt.date(2025, 9, 15), size="small", seed=9, fields=1, exposures=1
    )
    for name, value in (("off", "0"), ("on", "1")):
        run = reduce_night(tmp / "raw", tmp / name, options={"SKYSCRUNCH": value}, workers=1)
        assert run.ok
    product = Path("250915/ccd_2/15sep20008red.fits")
    assert (tmp / "on" / product).exists()
    return tmp / "off" / product, tmp / "on" / product


def test_a_product_against_itself_differs_nowhere(two_reductions):
    a, _ = two_reductions
    table = compare_products(a, a)
    lit = np.isfinite(table["flux_ratio"])
    assert lit.sum() >= 20  # the fibres with flux (not the sky fibres, once sky-subtracted)
    assert np.all(table["flux_ratio"][lit] == 1.0)
    assert np.all(table["rms_difference"][lit] == 0.0)
    assert np.nanmax(np.abs(table["wavelength_shift"].value)) < 1e-6


def test_the_sky_line_correction_shows_as_the_shift_it_applied(two_reductions):
    off, on = two_reductions
    table = compare_products(off, on)
    header = fits.getheader(on)
    history = "".join(header["HISTORY"])  # FITS wraps long HISTORY cards
    applied = float(re.search(r"median shift ([+-][\d.]+) Angstrom", history).group(1))
    # the header says what the correction used and did, as the history does
    assert header["SKYSHIFT"] == pytest.approx(applied, abs=1e-3)  # 4 and 3 decimals
    assert f"on {header['SKYFEAT']} sky features" in history and header["SKYFEAT"] >= 1
    # with its standard error, smaller than the shift (else it would not have been applied)
    assert 0 < header["SKYSHERR"] < abs(header["SKYSHIFT"]) + 0.05
    assert f"+- {header['SKYSHERR']:.3f}" in history
    assert "SKYFEAT" not in fits.getheader(off)
    step = header["CDELT1"]
    # corrected wavelengths are the apparent ones less the offset: features move by -offset
    programme = (table["type"] == "P") & np.isfinite(table["wavelength_shift"].value)
    measured = np.median(table["wavelength_shift"].value[programme])
    assert measured == pytest.approx(-applied, abs=0.05 * step)
    assert np.nanmedian(table["flux_ratio"][programme]) == pytest.approx(1.0, abs=0.01)


def test_known_differences_are_measured_exactly(two_reductions, tmp_path):
    a, _ = two_reductions
    b = tmp_path / "b.fits"
    with fits.open(a) as hdul:
        hdul[0].data = hdul[0].data * 1.03
        hdul["VARIANCE"].data = hdul["VARIANCE"].data * 1.03**2
        hdul[0].header["CRVAL1"] += 0.37 * hdul[0].header["CDELT1"]
        hdul.writeto(b)
        step = hdul[0].header["CDELT1"]
    table = compare_products(a, b)
    lit = np.isfinite(table["flux_ratio"])
    assert np.allclose(table["flux_ratio"][lit], 1.03, rtol=1e-6)
    shifts = table["wavelength_shift"].value
    assert np.nanmax(np.abs(shifts - 0.37 * step)) < 1e-3 * step
    # faint galaxies, cleanly sky-subtracted, have no features to align
    assert np.isfinite(shifts).sum() >= 0.5 * lit.sum()


def test_the_command_line_prints_the_worst_fibres_and_writes_the_table(two_reductions, tmp_path):
    off, on = two_reductions
    out = tmp_path / "fibres.csv"
    command = [str(BIN / "hectornb"), "reduce", "compare", str(off), str(on), "--csv", str(out)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "flux ratio B/A: median" in proc.stdout and "wavelength shift B-A" in proc.stdout
    assert out.read_text().splitlines()[0].startswith("fibre,name,type,flux_ratio")
    bad = subprocess.run(
        [str(BIN / "hectornb"), "reduce", "compare", str(off), "nowhere.fits"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "nowhere.fits" in bad.stderr
