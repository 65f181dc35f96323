"""Catalogues around targets, the bright-star suggestion, and what the Classify app draws."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table

from hectornb.catalogues import catalogue, gaia_bright, local_catalogue, openngc
from hectornb.targets import parse_target_bytes
from hectornb.targets.suggest import suggest_bright_star


def test_cone_matches_astropy_separations():
    gaia = gaia_bright()
    centre = SkyCoord(83.82, -5.39, unit="deg")  # the Orion Nebula: many bright stars
    idx, sep = gaia.cone(centre.ra.deg, centre.dec.deg, 1800.0)
    truth = centre.separation(SkyCoord(gaia.ra, gaia.dec, unit="deg")).arcsec
    assert sorted(idx.tolist()) == sorted(np.flatnonzero(truth <= 1800.0).tolist())
    assert np.allclose(sep, truth[idx], atol=1e-6)
    assert list(sep) == sorted(sep)


def test_cone_across_ra_zero_and_near_the_pole():
    cat = local_catalogue_from_rows([("a", 359.999, 10.0), ("b", 0.001, 10.0), ("c", 180, 89.99)])
    idx, _ = cat.cone(0.0, 10.0, 10.0)
    assert sorted(cat.ids[idx]) == ["a", "b"]
    idx, _ = cat.cone(0.0, 89.995, 60.0)
    assert list(cat.ids[idx]) == ["c"]


def local_catalogue_from_rows(rows, tmp_path=None):
    from hectornb.catalogues import SkyCatalogue

    names, ra, dec = zip(*rows, strict=True)
    n = len(rows)
    return SkyCatalogue(
        "t",
        "r",
        "star",
        np.array(ra, float),
        np.array(dec, float),
        np.full(n, 12.0),
        np.full(n, np.nan),
        np.array(names),
    )


@pytest.mark.parametrize("fmt", ["csv", "fits", "votable", "parquet"])
def test_local_catalogue_files(tmp_path, fmt):
    table = Table(
        {
            "name": ["s1", "s2"],
            "RA": [10.0, 10.01],
            "DEC": [-45.0, -45.0],
            "rmag": [14.1, 17.2],
            "e_rmag": [0.04, 0.1],
        }
    )
    suffix = {"votable": "xml"}.get(fmt, fmt)
    path = tmp_path / f"mycat.{suffix}"
    table.write(path, format={"csv": "ascii.csv", "votable": "votable"}.get(fmt, fmt))
    cat = catalogue(str(path))
    assert cat.name == "mycat" and len(cat) == 2
    near = cat.sources_near(10.0, -45.0, 60.0)
    assert [s["id"] for s in near] == ["s1", "s2"]
    assert near[1]["r"] == pytest.approx(0.01 * np.cos(np.radians(45)) * 3600, rel=1e-4)
    assert (near[0]["mag"], near[0]["mag_err"]) == (14.1, 0.04)
    assert near[1]["dx"] > 0 and abs(near[1]["dy"]) < 1e-6  # east is +dx


def test_local_catalogue_needs_positions(tmp_path):
    path = tmp_path / "bad.csv"
    Table({"x": [1.0], "y": [2.0]}).write(path, format="ascii.csv")
    with pytest.raises(ValueError, match="no ra/dec columns"):
        local_catalogue(path)
    with pytest.raises(ValueError, match="unknown catalogue"):
        catalogue("no-such-catalogue")


@pytest.mark.parametrize(
    ("r", "mag", "kind", "suggested"),
    [
        (15.0, 15.9, "star", True),
        (15.0, 16.1, "star", False),
        (30.0, 14.9, "star", True),
        (30.0, 15.1, "star", False),
        (31.5, 5.0, "star", False),
        (5.0, 5.0, "galaxy", False),
    ],
)
def test_bright_star_rule(r, mag, kind, suggested):
    src = {"kind": kind, "r": r, "mag": mag, "band": "G", "catalogue": "gaia", "id": "1"}
    result = suggest_bright_star([src])
    assert (result is not None) == suggested
    if suggested:
        assert result["badclass"] == 1 and f"{mag:.2f} star at {r:.1f}″" in result["reason"]


def test_openngc_galaxies_have_sizes():
    ngc = openngc()
    near = ngc.sources_near(10.6847, 41.2690, 600)  # M31
    assert near and near[0]["id"] == "NGC0224" and near[0]["size"] > 3000


def test_app_draws_local_catalogue_with_magnitude_cut_and_cutouts(store, list_name, tmp_path):
    from hectornb.widgets import ClassifyApp

    store.import_list(parse_target_bytes(b"A,10.0,-45.0\nB,20.0,-45.0\n", "l.csv"), list_name, "a")
    cat = tmp_path / "deep.csv"
    Table(
        {"ra": [10.0, 10.002, 10.004], "dec": [-45.0, -45.0, -45.0], "mag": [13.0, 15.5, 21.0]}
    ).write(cat, format="ascii.csv")
    cutouts = tmp_path / "cutouts"
    cutouts.mkdir()
    (cutouts / "A.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    app = ClassifyApp(list_name, catalogues=[str(cat)], mag_limit=20.0, cutouts=cutouts)
    assert app.catalogue_names == ["deep"]
    info = app.sources_for(app.cards)
    assert [s["mag"] for s in info["A"]["sources"]] == [13.0, 15.5]  # 21 mag cut away
    assert info["A"]["suggestion"]["badclass"] == 1  # 13 mag star at 0″
    assert info["A"]["cutout"].startswith("data:image/png;base64,")
    assert info["B"]["sources"] == [] and info["B"]["cutout"] is None
    # the page's legend says the charts have sky images, or why they are dark
    assert app.has_cutouts and not ClassifyApp(list_name, cutouts=tmp_path / "none").has_cutouts


@pytest.fixture(scope="module")
def tap_stars(platform):
    """The fixed TAP test catalogue, published, and the same rows as a local file."""
    from support.tap_fixtures import fixed_catalogue

    from hectornb.tap import ingest_table

    table = fixed_catalogue()
    ingest_table(table, "cattest.stars")
    return table


def test_tap_catalogue_agrees_with_the_same_rows_in_memory(tap_stars, tmp_path):
    path = tmp_path / "stars.fits"
    tap_stars.write(path)
    memory = local_catalogue(path)
    tap = catalogue("tap:cattest.stars;kind=star;band=V")
    for ra, dec, radius in ((0.0, 0.0, 10.0), (90.0, 89.9995, 20.0), (10.2, 10.1, 1800.0)):
        want = memory.sources_near(ra, dec, radius)
        got = tap.sources_near(ra, dec, radius)
        assert [s["id"] for s in got] == [s["id"] for s in want] and got
        for g, w in zip(got, want, strict=True):
            assert g["r"] == pytest.approx(w["r"], abs=1e-6)
            assert g["dx"] == pytest.approx(w["dx"], abs=1e-6)
            assert g["mag"] == w["mag"] and g["kind"] == "star" and g["band"] == "V"


def test_tap_catalogue_of_another_service_by_url_and_when_unreachable(tap_stars, platform):
    remote = catalogue(f"tap:{platform['base']}/hectornb/tap#cattest.stars;name=remote")
    near = remote.sources_near(45.0, 45.2, 1200.0)
    assert [s["id"] for s in near] == ["12", "13"] and near[0]["catalogue"] == "remote"
    assert near[0]["mag"] == 5.5  # the magnitude column found from its name
    # a bright star within 31" gives the class-1 suggestion, from TAP sources too
    assert suggest_bright_star(remote.sources_near(45.0, 45.005, 31.0)) is not None
    gone = catalogue("tap:http://127.0.0.1:9/tap#cattest.stars")
    assert gone.sources_near(0.0, 0.0, 10.0) == []  # offline: no sources, no failure
    for bad in ("tap:", "tap:notatable", "tap:a.b;colour=red", "tap:x.y; DROP TABLE z"):
        with pytest.raises(ValueError):
            catalogue(bad)


def test_classify_app_draws_a_tap_catalogue(tap_stars, store, list_name):
    from hectornb.widgets import ClassifyApp

    store.import_list(
        parse_target_bytes(b"near,45.0,45.004\nfar,200.0,10.0\n", "l.csv"), list_name, "a"
    )
    app = ClassifyApp(list_name, catalogues=["tap:cattest.stars;name=tapstars"], mag_limit=6.0)
    assert app.catalogue_names == ["tapstars"]
    info = app.sources_for(app.cards)
    assert [s["id"] for s in info["near"]["sources"]] == ["12"]  # 13 is 6.5 mag: cut away
    assert info["near"]["sources"][0]["r"] == pytest.approx(14.4, abs=0.01)
    assert info["near"]["suggestion"]["badclass"] == 1  # a 5.5 mag star at 14.4"
    assert info["far"]["sources"] == [] and info["far"]["suggestion"] is None
