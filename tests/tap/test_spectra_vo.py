"""Reduced spectra in the Virtual Observatory, over real HTTP with pyvo and specutils as the
clients: ObsCore through TAP, SSA, DataLink with the spectrum, its provenance and a SODA
cutout; who sees which spectrum."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import pyvo
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io.votable import parse_single_table
from support.spectra import PUBLIC_FROM, publish_products


@pytest.fixture(scope="module")
def products(platform, tmp_path_factory):
    return publish_products(tmp_path_factory.mktemp("vo") / "reduce")


@pytest.fixture(scope="module")
def tokens(platform):
    from hectornb.tokens import create

    return {who: create(who, "vo test")["token"] for who in ("carol", "dave", "erin")}


def session(token: str | None) -> requests.Session:
    s = requests.Session()
    if token:
        s.headers["Authorization"] = f"token {token}"
    return s


def obscore(platform, adql: str, token: str | None = None):
    r = session(token).get(
        platform["base"] + "/hectornb/tap/sync",
        params={"LANG": "ADQL", "QUERY": adql},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return parse_single_table(io.BytesIO(r.content)).to_table()


def test_obscore_describes_each_spectrum_in_si_units(platform, products):
    pub = products["public"]
    t = obscore(platform, f"SELECT * FROM ivoa.obscore WHERE obs_publisher_did = '{pub['did']}'")
    assert len(t) == 1
    row = t[0]
    frame = pub["frame"]
    assert str(row["dataproduct_type"]) == "spectrum" and int(row["calib_level"]) == 2
    assert str(row["target_name"]) == str(frame.fibres["NAME"][0])
    assert row["s_ra"] == pytest.approx(pub["ra"] % 360) and row["s_dec"] == pytest.approx(
        pub["dec"]
    )
    measured = frame.wavelength[np.isfinite(frame.flux[0])]  # where the spectrum has data
    assert row["em_min"] == pytest.approx(measured.min() * 1e-10)
    assert row["em_max"] == pytest.approx(measured.max() * 1e-10)
    assert row["t_min"] == pytest.approx(frame.header["UTMJD"])
    assert row["t_exptime"] == pytest.approx(frame.header["EXPOSED"])
    assert str(row["obs_release_date"]).startswith(PUBLIC_FROM.isoformat())
    assert str(row["access_url"]).startswith(platform["base"] + "/hectornb/datalink/links?ID=")
    assert "content=datalink" in str(row["access_format"])
    shape, frame_name, *circle = str(row["s_region"]).split()
    assert (shape, frame_name) == ("CIRCLE", "ICRS")
    assert [float(v) for v in circle] == pytest.approx([pub["ra"] % 360, pub["dec"], 2.1 / 7200])
    assert str(row["facility_name"]) == "AAT" and str(row["instrument_name"]) == "AAOmega+2dF"
    private = products["private"]["did"]
    hidden = f"SELECT calib_level FROM ivoa.obscore WHERE obs_publisher_did = '{private}'"
    assert len(obscore(platform, hidden)) == 0  # anonymous: proprietary


def test_adql_cone_and_wavelength_ranges_find_the_right_spectra(platform, products):
    pub, priv = products["public"], products["private"]

    def dids(where: str, token=None) -> set[str]:
        t = obscore(platform, f"SELECT obs_publisher_did FROM ivoa.obscore WHERE {where}", token)
        return {str(v) for v in t["obs_publisher_did"]}

    near = (
        f"1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', {pub['ra']}, {pub['dec']}, 0.01))"
    )
    assert pub["did"] in dids(near)
    assert pub["did"] in dids(f"{near} AND em_min < 4.5e-7 AND em_max > 8.5e-7")
    assert pub["did"] not in dids(f"{near} AND em_min > 9e-7")  # starts before 900 nm
    assert pub["did"] not in dids(
        "1 = CONTAINS(POINT('ICRS', s_ra, s_dec), "
        f"CIRCLE('ICRS', {pub['ra']}, {pub['dec'] + 1}, 0.5))"
    )
    assert priv["did"] not in dids(
        f"1 = CONTAINS(POINT('ICRS', s_ra, s_dec), CIRCLE('ICRS', "
        f"{priv['ra']}, {priv['dec']}, 0.01))"
    )


def test_proprietary_spectra_are_their_programmes_and_their_reducers(platform, products, tokens):
    did = products["private"]["did"]
    query = f"SELECT calib_level FROM ivoa.obscore WHERE obs_publisher_did = '{did}'"
    assert len(obscore(platform, query)) == 0  # anonymous
    assert len(obscore(platform, query, tokens["erin"])) == 0  # another user
    for who in ("carol", "dave"):  # a member of its programme; who reduced it
        t = obscore(platform, query, tokens[who])
        assert [int(v) for v in t["calib_level"]] == [3]  # spliced
    links = platform["base"] + "/hectornb/datalink/links"
    for who in (None, "erin"):
        body = session(tokens.get(who)).get(links, params={"ID": did}, timeout=30)
        t = parse_single_table(io.BytesIO(body.content)).to_table()
        assert len(t) == 1 and str(t["error_message"][0]).startswith("NotFoundFault")
        this = session(tokens.get(who)).get(
            platform["base"] + "/hectornb/datalink/spectrum", params={"ID": did}, timeout=30
        )
        assert this.status_code == 404
    this = session(tokens["carol"]).get(
        platform["base"] + "/hectornb/datalink/spectrum", params={"ID": did}, timeout=30
    )
    assert this.status_code == 200 and this.content[:6] == b"SIMPLE"


def test_pyvo_ssa_finds_the_fields_spectra_and_specutils_reads_them(
    platform, products, tokens, tmp_path
):
    from specutils import Spectrum

    pub, priv = products["public"], products["private"]
    ssa = pyvo.dal.SSAService(platform["base"] + "/hectornb/ssa/")
    found = ssa.search(pos=SkyCoord(pub["ra"] * u.deg, pub["dec"] * u.deg), diameter=0.02 * u.deg)
    dids = [str(r["pubdid"]) for r in found]
    assert pub["did"] in dids and priv["did"] not in dids
    record = next(r for r in found if str(r["pubdid"]) == pub["did"])
    assert record.getdataurl().startswith(platform["base"] + "/hectornb/datalink/spectrum")
    path = tmp_path / "spectrum.fits"
    path.write_bytes(requests.get(record.getdataurl(), timeout=30).content)
    spectrum = Spectrum.read(path)  # no format hint
    frame = pub["frame"]
    good = np.isfinite(frame.wavelength)
    assert spectrum.spectral_axis.to_value(u.AA) == pytest.approx(frame.wavelength[good])
    assert np.allclose(spectrum.flux.value, frame.flux[0][good], equal_nan=True)
    # another field holds only the proprietary spectrum: nobody's to see anonymously
    elsewhere = ssa.search(
        pos=SkyCoord(priv["ra"] * u.deg, priv["dec"] * u.deg), diameter=0.02 * u.deg
    )
    assert [str(r["pubdid"]) for r in elsewhere] == []
    # pyvo follows the answer's DataLink service descriptor (it POSTs the IDs)
    links = next(found.iter_datalinks())
    assert len(list(links.bysemantics("#this", include_narrower=False))) == 1
    carols = pyvo.dal.SSAService(
        platform["base"] + "/hectornb/ssa/", session=session(tokens["carol"])
    )
    mine = carols.search(
        pos=SkyCoord(priv["ra"] * u.deg, priv["dec"] * u.deg), diameter=0.02 * u.deg
    )
    assert priv["did"] in [str(r["pubdid"]) for r in mine]


def test_ssa_band_time_format_and_errors(platform, products):
    pub = products["public"]
    base = platform["base"] + "/hectornb/ssa/"
    pos = f"{pub['ra']},{pub['dec']}"

    def rows(**params) -> list[str]:
        r = requests.get(
            base, params={"REQUEST": "queryData", "POS": pos, "SIZE": "0.02", **params}, timeout=30
        )
        t = parse_single_table(io.BytesIO(r.content)).to_table()
        return [str(v) for v in t["pubdid"]]

    assert pub["did"] in rows(BAND="5e-7/6e-7")
    assert rows(BAND="1e-6/2e-6") == []  # beyond its red end
    assert pub["did"] in rows(TIME="2015-12-17/2015-12-18")
    assert rows(TIME="2016-01-01/2016-02-01") == []
    assert rows(FORMAT="METADATA") == []
    assert rows(FORMAT="image/png") == []
    bad = requests.get(base, params={"REQUEST": "queryData", "POS": "12,100"}, timeout=30)
    status = parse_votable_info(bad.content)
    assert status == ("ERROR", "POS: declination 100.0 is outside -90..90")
    caps = requests.get(base + "capabilities", timeout=30).text
    assert 'standardID="ivo://ivoa.net/std/SSA"' in caps


def parse_votable_info(body: bytes) -> tuple[str, str]:
    ns = {"v": "http://www.ivoa.net/xml/VOTable/v1.3"}
    info = ET.fromstring(body).find(".//v:INFO[@name='QUERY_STATUS']", ns)
    return info.get("value"), (info.text or "").strip()


def test_datalink_gives_this_provenance_and_a_cutout(platform, products, tmp_path):
    from specutils import Spectrum

    pub = products["public"]
    tap = pyvo.dal.TAPService(platform["base"] + "/hectornb/tap")
    result = tap.search(f"SELECT * FROM ivoa.obscore WHERE obs_publisher_did = '{pub['did']}'")
    # (include_narrower=False: pyvo would fetch the IVOA vocabulary, and we are offline)
    links = next(result.iter_datalinks())
    this = list(links.bysemantics("#this", include_narrower=False))
    assert len(this) == 1
    path = tmp_path / "this.fits"
    path.write_bytes(requests.get(this[0].access_url, timeout=30).content)
    spectrum = Spectrum.read(path)
    assert spectrum.spectral_axis.unit == u.AA
    assert spectrum.meta["header"]["PUBDID"] == pub["did"]
    progenitor = list(links.bysemantics("#progenitor", include_narrower=False))
    product = requests.get(progenitor[0].access_url, timeout=30)
    assert product.status_code == 200 and product.content == pub["path"].read_bytes()
    # SODA: the spectrum between 500 and 600 nm
    soda = platform["base"] + "/hectornb/datalink/soda"
    cut = requests.get(soda, params={"ID": pub["did"], "BAND": "5e-7 6e-7"}, timeout=30)
    assert cut.status_code == 200
    (tmp_path / "cut.fits").write_bytes(cut.content)
    wave = Spectrum.read(tmp_path / "cut.fits").spectral_axis.to_value(u.AA)
    assert wave.min() >= 5000 and wave.max() <= 6000 and len(wave) > 100
    empty = requests.get(soda, params={"ID": pub["did"], "BAND": "1e-5 2e-5"}, timeout=30)
    assert empty.status_code == 400 and "holds none of this spectrum" in empty.text
    # and through pyvo's SODA client, from the service descriptor in the links
    proc = links.get_first_proc()
    (tmp_path / "proc.fits").write_bytes(proc.processed(band=(5.5e-7, 5.6e-7) * u.m).read())
    wave = Spectrum.read(tmp_path / "proc.fits").spectral_axis.to_value(u.AA)
    assert wave.min() >= 5500 and wave.max() <= 5600


def test_the_tap_service_declares_obscore(platform):
    caps = requests.get(platform["base"] + "/hectornb/tap/capabilities", timeout=30).text
    assert 'ivo-id="ivo://ivoa.net/std/ObsCore#core-1.1"' in caps


def test_a_query_cannot_learn_of_hidden_spectra_from_its_own_errors(platform, products, tokens):
    """A condition that fails on the proprietary spectrum alone (a division by zero at its
    declination): for those who may not see it the query runs on visible rows only and
    answers; for a member of its programme the same query meets the row and fails."""
    import math

    floor = math.floor(products["private"]["dec"])
    adql = f"SELECT COUNT(*) AS n FROM ivoa.obscore WHERE 1 / FLOOR(s_dec - ({floor})) > -1000"
    url = platform["base"] + "/hectornb/tap/sync"
    for who in (None, "erin"):
        r = session(tokens.get(who)).get(url, params={"LANG": "ADQL", "QUERY": adql}, timeout=60)
        assert r.status_code == 200 and b"division by zero" not in r.content, r.text
    member = session(tokens["carol"]).get(url, params={"LANG": "ADQL", "QUERY": adql}, timeout=60)
    assert b"division by zero" in member.content
    leak = (
        "SELECT COUNT(*) FROM ivoa.obscore WHERE CAST(obs_publisher_did || ',' || proposal_id "
        "AS INTEGER) = 1 AND s_dec > -20"
    )
    r = requests.get(url, params={"LANG": "ADQL", "QUERY": leak}, timeout=60)
    assert b"X/2099A" not in r.content and b"quasar" not in r.content


def test_each_file_a_spectrum_came_from_knows_whose_frames_it_carries(tmp_path):
    """DataLink hides a calibration whose raw frame the caller may not read: the arc carries
    its own raw frame's fibre table (perhaps another programme's field), the product its
    object frame's alone."""
    from hectornb.reduce.provenance import sources

    out = tmp_path / "req"
    plan = {
        "steps": [
            {"output": "n/ccd_1/flatred.fits", "inputs": {"raw": "/raw/flat.fits"}},
            {
                "output": "n/ccd_1/arcred.fits",
                "inputs": {"raw": "/raw/arc.fits", "tlm": str(out / "n/ccd_1/flatred.fits")},
            },
            {
                "output": "n/ccd_1/objred.fits",
                "inputs": {
                    "raw": "/raw/obj.fits",
                    "tlm": str(out / "n/ccd_1/flatred.fits"),
                    "arc": str(out / "n/ccd_1/arcred.fits"),
                    "bias": "/raw/bias.fits",
                },
            },
        ]
    }
    found = {s.name: s for s in sources(plan, out / "n/ccd_1/objred.fits", out)}
    assert found["product"].raw == found["pdf"].raw == ("/raw/obj.fits",)
    assert found["arc"].raw == ("/raw/arc.fits",) and found["tlm"].raw == ("/raw/flat.fits",)
    assert found["raw"].semantics == "#progenitor" and found["arc"].semantics == "#calibration"
    assert found["bias"].raw == ("/raw/bias.fits",)


def test_odd_names_and_lost_files_are_answered_cleanly(platform, tmp_path):
    """A fibre named with markup and control bytes stays well-formed XML and a valid FITS
    header; a product deleted from disk is "no longer kept" (404), never a server error."""
    from astropy.io import fits

    from hectornb.reduce.access import set_programme
    from hectornb.spectra.index import SpectrumIndex
    from hectornb.spectra.products import EXAMPLES

    odd = tmp_path / "oddrequest" / "odd+name.fits"
    odd.parent.mkdir()
    with fits.open(EXAMPLES / "emlLinearSkyAirHelio.fits") as hdul:
        hdul[0].header["AAOPRGID"] = "ODD/2001A/001"
        hdul["FIBRES"].data["NAME"][0] = '<b>&"\x01\x0b'
        hdul["FIBRES"].data["DEC"] = hdul["FIBRES"].data["DEC"] + 0.7  # a field of its own
        hdul.writeto(odd)
    set_programme("ODD/2001A/001", PUBLIC_FROM)
    SpectrumIndex().add_product(odd, "reduce_object", "bob")
    did = f"ivo://{SpectrumIndex().authority}/spectra?oddrequest/odd+name/0"
    t = obscore(
        platform,
        f"SELECT target_name, access_url FROM ivoa.obscore WHERE obs_publisher_did = '{did}'",
    )
    assert str(t["target_name"][0]) == '<b>&"'
    links = requests.get(str(t["access_url"][0]), timeout=30)  # the + is encoded
    assert "#this" in links.text and "NotFoundFault" not in links.text
    this = requests.get(
        platform["base"] + "/hectornb/datalink/spectrum", params={"ID": did}, timeout=30
    )
    assert this.status_code == 200
    ssa = requests.get(
        platform["base"] + "/hectornb/ssa/",
        params={"ID": did, "POS": "35.41,-28.21", "SIZE": "0.1"},
        timeout=30,
    )
    assert parse_single_table(io.BytesIO(ssa.content)).to_table() is not None  # parses
    odd.unlink()
    gone = requests.get(
        platform["base"] + "/hectornb/datalink/spectrum", params={"ID": did}, timeout=30
    )
    assert gone.status_code == 404 and "no longer kept" in gone.text


def test_a_cutout_in_a_spliced_gap_says_it_holds_nothing():
    """A spliced spectrum has no data between its arms: a BAND there is refused, as one
    beyond its ends is, rather than answered with a spectrum of NaNs."""
    from hectornb.errors import Invalid
    from hectornb.spectra.io import read_2dfdr
    from hectornb.spectra.products import EXAMPLES
    from hectornb.spectra.vo import spectrum_file

    frame = read_2dfdr(EXAMPLES / "emlLinearSkyAirHelio.fits")
    wave = frame.wavelength
    frame.flux[0][(wave > 5700) & (wave < 5900)] = np.nan  # the gap between the arms
    with pytest.raises(Invalid, match="holds none of this spectrum"):
        spectrum_file(frame, 0, "ivo://x/spectra?a/b/0", (5.72e-7, 5.88e-7))
    cut = spectrum_file(frame, 0, "ivo://x/spectra?a/b/0", (5.6e-7, 5.88e-7))
    assert np.isfinite(cut[1].data["flux"]).sum() > 50
