"""Reading real 2dfdr products, and writing ours so that specutils reads them."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from hectornb.spectra import ReducedFrame, read, write_2dfdr
from hectornb.spectra.products import EXAMPLES

FIXTURES = EXAMPLES


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.fits")), ids=lambda p: p.stem)
def test_reader_on_real_2dfdr_files(path):
    frame = read(path)
    raw = fits.open(path)
    n_fib = len(raw["FIBRES"].data)
    assert frame.flux.shape == (n_fib, raw[0].header["NAXIS1"])
    assert np.array_equal(frame.flux.ravel(), raw[0].data.astype(float).ravel(), equal_nan=True)
    assert frame.variance.shape == frame.flux.shape
    assert list(frame.fibres["NAME"]) == [n.strip() for n in raw["FIBRES"].data["NAME"]]
    assert frame.fibres["RA"].unit == u.deg
    assert np.allclose(frame.fibres["RA"].value, np.degrees(raw["FIBRES"].data["RA"]))
    wave = frame.wavelength if frame.wavelength.ndim == 1 else frame.wavelength[0]
    if "WAVELENGTH" in [h.name for h in raw]:
        stored = np.asarray(raw["WAVELENGTH"].data, float).reshape(-1, wave.size)[0]
        expect = 10**stored if "Log" in path.name else stored
    else:
        h = raw[0].header
        expect = h["CRVAL1"] + (np.arange(wave.size) + 1 - h["CRPIX1"]) * h["CDELT1"]
    assert np.allclose(wave, expect)
    assert 3000 < wave.min() < wave.max() < 10000  # Angstrom, optical


def test_first_fixture_values():
    frame = read(FIXTURES / "emlLinearSkyAirHelio.fits")
    assert frame.fibres["NAME"][0] == "D0221394-2854323"
    assert frame.fibres["RA"][0].value == pytest.approx(35.41427083, abs=1e-7)
    assert frame.wavelength[0] == pytest.approx(6365.353027344 - 2517 * 1.037644583995)
    assert frame.header["GRATID"] == "385R" and frame.sky.shape == (5037,)


def _product(n_fib=5, n_pix=300) -> ReducedFrame:
    rng = np.random.default_rng(0)
    fibres = Table(
        {
            "NAME": [f"G{i}" for i in range(n_fib)],
            "RA": np.linspace(35.0, 35.1, n_fib) * u.deg,
            "DEC": np.full(n_fib, -28.7) * u.deg,
            "X": np.zeros(n_fib, int),
            "Y": np.zeros(n_fib, int),
            "XERR": np.zeros(n_fib, int),
            "YERR": np.zeros(n_fib, int),
            "THETA": np.zeros(n_fib),
            "TYPE": ["P"] * (n_fib - 1) + ["S"],
            "PIVOT": np.arange(1, n_fib + 1),
            "MAGNITUDE": np.full(n_fib, 18.0),
            "PID": np.zeros(n_fib, int),
            "COMMENT": [""] * n_fib,
            "RETRACTOR": ["1"] * n_fib,
            "WLEN": np.full(n_fib, 650.0),
        }
    )
    header = fits.Header(
        {
            "INSTRUME": "AAOMEGA-2dF",
            "OBJECT": "F01",
            "MEANRA": 35.05,
            "MEANDEC": -28.7,
            "GRATID": "385R",
        }
    )
    return ReducedFrame(
        flux=rng.normal(100, 5, (n_fib, n_pix)),
        wavelength=6000.0 + 1.5 * np.arange(n_pix),
        fibres=fibres,
        variance=np.full((n_fib, n_pix), 25.0),
        sky=np.full(n_pix, 40.0),
        rwss=rng.normal(140, 5, (n_fib, n_pix)),
        header=header,
        reduction_args={"ENGINE": "builtin", "SKYSCRUNCH": 1},
    )


def test_our_products_roundtrip_and_specutils_reads_them(tmp_path):
    from specutils import SpectrumList

    product = _product()
    path = write_2dfdr(product, tmp_path / "27aug20008red.fits")
    assert fits.open(path)[2].name == "FIBRES"
    back = read(path)
    assert np.allclose(back.flux, product.flux, rtol=1e-6)
    assert np.allclose(back.wavelength, product.wavelength)
    assert np.allclose(back.fibres["RA"].value, product.fibres["RA"].value)
    assert back.reduction_args == {"ENGINE": "builtin", "SKYSCRUNCH": "1"}
    spectra = SpectrumList.read(path, format="Data Central AAOmega")
    assert len(spectra) >= 1
    first = spectra[0]
    assert np.allclose(first.spectral_axis.to_value(u.AA)[[0, -1]], [6000.0, 6000.0 + 1.5 * 299])
    fluxes = np.vstack(
        [s.flux.value for s in spectra if s.flux.ndim == 1] or [spectra[0].flux.value]
    )
    assert np.allclose(fluxes[0], product.flux[0], rtol=1e-6)


def test_writer_refuses_what_2dfdr_format_cannot_hold(tmp_path):
    product = _product()
    product.wavelength = np.geomspace(6000, 7000, 300)
    with pytest.raises(ValueError, match="linear wavelength grid"):
        write_2dfdr(product, tmp_path / "x.fits")
    product = _product()
    product.fibres = product.fibres[:3]
    with pytest.raises(ValueError, match="3 fibre-table rows for 5 spectra"):
        write_2dfdr(product, tmp_path / "x.fits")
