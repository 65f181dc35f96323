"""The Explore app's Python side: reading products as astropy/specutils objects (2dF and
Hector IFU fibre tables), the field geometry, and who may open which products."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from hectornb.errors import Forbidden, Invalid, NotFound
from hectornb.spectra import read
from hectornb.spectra.products import EXAMPLES, find_products, is_product
from hectornb.widgets.explore import SpectrumExplorer, fibre_columns, field_offsets


def test_every_example_is_a_product_and_says_air_or_vacuum():
    found = find_products(EXAMPLES)
    assert len(found) == 8
    for label, path in found:
        frame = read(path)
        # the Marz files name their medium; 2dfdr's header says VACUUM = T for vacuum
        assert frame.medium == ("vacuum" if "Vacuum" in label else "air"), label


def test_spectra_as_specutils_objects():
    frame = read(EXAMPLES / "emlLogVacuumHelioMultiple.fits")
    spectra = frame.spectra()
    assert len(spectra) == 3
    second = spectra[1]
    assert second.spectral_axis.unit == u.AA
    assert np.allclose(second.spectral_axis.value, frame.fibre_wavelength(1).value)
    assert np.array_equal(second.flux.value, frame.flux[1], equal_nan=True)
    assert second.flux.unit == u.count
    assert np.array_equal(second.uncertainty.array, frame.variance[1], equal_nan=True)
    assert second.meta["fibre"]["NAME"] == "W0220429-2922320"
    assert second.meta["medium"] == "vacuum"


def test_field_summary_and_fibre_offsets_on_the_sky():
    frame = read(EXAMPLES / "emlLogVacuumHelioMultiple.fits")
    field = frame.field()
    assert field["name"] == "FLD195_v03" and field["exposure"] == 2700 * u.s
    # the centre is the configuration's (CENRA/CENDEC, radians, in the fibre table header)
    raw = fits.open(EXAMPLES / "emlLogVacuumHelioMultiple.fits")["FIBRES"].header
    assert field["centre"].ra.rad == pytest.approx(raw["CENRA"])
    east, north = field_offsets(frame)
    # offsets match the separation and position angle from the centre
    fib = frame.fibres[1]
    from astropy.coordinates import SkyCoord

    here = SkyCoord(fib["RA"], fib["DEC"])
    sep = field["centre"].separation(here).to_value(u.arcmin)
    assert np.hypot(east[1], north[1]) == pytest.approx(sep, rel=1e-4)
    pa = field["centre"].position_angle(here)
    assert east[1] == pytest.approx(sep * np.sin(pa.rad), rel=1e-4)
    assert north[1] == pytest.approx(sep * np.cos(pa.rad), rel=1e-4)


def _hector_product(tmp_path):
    """A Hector-like product whose fibres come in an IFU table (positions in degrees,
    hexabundle letter and probe number per fibre), as SAMI/Hector products carry."""
    n, npix = 6, 200
    ifu = Table(
        {
            "SPEC_ID": np.arange(1, n + 1),
            "NAME": [f"G{k // 3}" for k in range(n)],
            "TYPE": ["P"] * 5 + ["S"],
            "PROBENUM": [1, 1, 1, 2, 2, 0],
            "PROBENAME": ["A", "A", "A", "B", "B", ""],
            "FIB_MRA": [150.0, 150.001, 150.002, 150.5, 150.501, 149.8],
            "FIB_MDEC": [2.0, 2.0, 2.001, 2.3, 2.3, 1.9],
        }
    )
    header = fits.Header(
        {
            "CRVAL1": 3700.0,
            "CDELT1": 1.0,
            "CRPIX1": 1.0,
            "OBJECT": "H-field",
            "MEANRA": 150.2,
            "MEANDEC": 2.1,
            "EXPOSED": 1800.0,
        }
    )
    path = tmp_path / "hector_red.fits"
    fits.HDUList(
        [
            fits.PrimaryHDU(np.ones((n, npix), np.float32), header=header),
            fits.ImageHDU(np.ones((n, npix), np.float32), name="VARIANCE"),
            fits.BinTableHDU(ifu, name="FIBRES_IFU"),
        ]
    ).writeto(path)
    return path


def test_hector_ifu_fibre_table_names_hexabundles(tmp_path):
    path = _hector_product(tmp_path)
    assert is_product(path)
    frame = read(path)
    assert frame.fibres["RA"].unit == u.deg
    assert frame.fibres["RA"][3].value == pytest.approx(150.5)  # degrees kept, not converted
    columns = fibre_columns(frame)
    assert columns["bundle"] == ["A", "A", "A", "B", "B", ""]
    assert columns["probe"][:4] == ["1", "1", "1", "2"]
    assert columns["position"][0].startswith("10:00:00.00 +02:00:00")
    field = frame.field()
    assert field["name"] == "H-field" and field["centre"].ra.deg == pytest.approx(150.2)


def test_explorer_opens_a_folder_and_a_file_and_refuses_what_is_not_a_product(tmp_path):
    explorer = SpectrumExplorer(EXAMPLES, fibre=2)
    mine = [c for c in explorer.choices if c["group"] == str(EXAMPLES)]
    assert len(mine) == 8 and explorer.product == mine[0]["key"]
    assert explorer.summary["field"] == "FLD195_v03" and explorer.fibre == 0  # one fibre
    explorer.product = next(c["key"] for c in mine if "Multiple" in c["label"])
    assert explorer.summary["n_fibres"] == 3 and explorer.summary["medium"] == "vacuum"
    multi = read(EXAMPLES / "emlLogVacuumHelioMultiple.fits")
    assert explorer.fibres["name"] == [str(n) for n in multi.fibres["NAME"]]
    assert any(
        line["name"] == "Hα" and line["rest"] == pytest.approx(6564.61, abs=0.01)
        for line in explorer.lines
    )

    (tmp_path / "notes.txt").write_text("not spectra")
    with pytest.raises(Invalid, match="no reduced products"):
        SpectrumExplorer(tmp_path)
    with pytest.raises(NotFound):
        SpectrumExplorer(tmp_path / "missing.fits")


def test_explorer_opens_only_the_users_own_requests(database_url):
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore()
    theirs = store.create(
        "someone-else",
        ["/nowhere/x.fits"],
        "builtin",
        {},
        None,
        f"explore-test-{uuid.uuid4()}",
        "/nowhere",
    )
    store.cancel(theirs.id, "someone-else")  # nothing to run: a runner must not take it
    for spelling in (theirs.id, f"urn:uuid:{theirs.id}", theirs.id.upper()):
        with pytest.raises(Forbidden):
            SpectrumExplorer(job=spelling)
    with pytest.raises(NotFound):
        SpectrumExplorer(job=str(uuid.uuid4()))


def test_page_address_opens_the_product_once_in_a_kernel_voila_started_for_it(monkeypatch):
    """A kernel Voilà starts for a page has the page's query in its environment: the product
    it names opens at once, and the page's own ``init`` with the same address changes
    nothing; outside Voilà nothing is opened."""
    from hectornb.widgets._page_request import when_page_requested

    asked = []
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    when_page_requested(asked.append)
    assert asked == []  # JupyterLab: no page

    multi = "emlLogVacuumHelioMultiple.fits"
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv("QUERY_STRING", f"product={multi}&fibre=3&token=x")
    explorer = SpectrumExplorer()
    explorer.open_when_page_requested()
    assert explorer.product.endswith(multi) and explorer.fibre == 2
    chosen = next(c["key"] for c in explorer.choices if not c["key"].endswith(multi))
    explorer.product = chosen
    explorer._on_message(
        explorer, {"type": "init", "params": {"product": multi, "fibre": "3", "token": "x"}}, []
    )
    assert explorer.product == chosen and explorer.ready  # what the user chose since stays


def test_a_spectrum_opens_by_its_did_or_datalink_url_for_those_who_may_see_it(
    database_url, tmp_path
):
    """As the TAP app's "open in Explore" link asks: ``?spectrum=`` a DataLink URL or the
    DID itself opens its product at its fibre; another user is told it is not found."""
    from urllib.parse import quote

    from support.spectra import PRIVATE_PROGRAMME, publish_products

    from hectornb.reduce.session import LocalReduce

    private = publish_products(tmp_path / "reduce")["private"]
    explorer = SpectrumExplorer(session=LocalReduce("carol"))  # a member of its programme
    link = f"http://platform/hectornb/datalink/links?ID={quote(private['did'], safe='')}"
    explorer.open_from_query({"spectrum": link})
    assert explorer.frame.header["AAOPRGID"] == PRIVATE_PROGRAMME
    assert explorer.fibre == 0 and explorer.product.endswith("(fibre 1)")
    explorer.open_spectrum(private["did"])  # the DID itself: the same spectrum
    assert explorer.frame.header["AAOPRGID"] == PRIVATE_PROGRAMME
    stranger = SpectrumExplorer(session=LocalReduce("erin"))
    with pytest.raises(NotFound):
        stranger.open_spectrum(private["did"])
    with pytest.raises(Invalid, match="neither a spectrum's DID"):
        stranger.open_spectrum("M31")
