"""Simulated raw nights, the archive index and the reduction plan."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from hectornb.instrument import other_arm, parse_raw_filename, raw_filename
from hectornb.reduce import index_directory, plan_night, query_frames, store_index
from hectornb.simulate import simulate_night

HEADER_KEYWORDS = (
    "NDFCLASS",
    "OBJECT",
    "EXPOSED",
    "UTDATE",
    "UTSTART",
    "UTMJD",
    "EPOCH",
    "RUNCMD",
    "SPECTID",
    "INSTRUME",
    "DETECTOR",
    "GRATID",
    "GRATLPMM",
    "GRATANGL",
    "CAMANGL",
    "LAMBDAC",
    "LAMBDCR",
    "DICHROIC",
    "SOURCE",
    "CFG_FILE",
    "SPEED",
    "RO_GAIN",
    "RO_NOISE",
    "MEANRA",
    "MEANDEC",
    "FILEORIG",
    "LAMPNAME",
    "AAOPRGID",
    "WINDOXS1",
    "WINDOXE1",
    "WINDOYS1",
    "WINDOYE1",
    "WINDOXS2",
    "WINDOXE2",
)
FIBRE_COLUMNS = [
    "NAME",
    "RA",
    "DEC",
    "X",
    "Y",
    "XERR",
    "YERR",
    "THETA",
    "TYPE",
    "PIVOT",
    "MAGNITUDE",
    "PID",
    "COMMENT",
    "RETRACTOR",
    "WLEN",
]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    paths = simulate_night(out, date=dt.date(2025, 8, 27), size="small", seed=3)
    return out, paths


def test_raw_file_names():
    assert raw_filename(dt.date(2015, 12, 17), 2, 28) == "17dec20028.fits"
    assert parse_raw_filename("17dec20028.fits") == (17, "dec", 2, 28)
    assert other_arm("17dec20028.fits") == "17dec10028.fits"
    with pytest.raises(ValueError, match="DDmmmCNNNN"):
        parse_raw_filename("17xyz20028.fits")


def test_night_layout_headers_and_fibre_table(night):
    out, paths = night
    assert len(paths) == 30
    assert {p.relative_to(out).parts[:2] for p in paths} == {
        ("250827", "ccd_1"),
        ("250827", "ccd_2"),
    }
    runs = {
        arm: sorted(parse_raw_filename(p.name)[3] for p in paths if f"ccd_{arm}" in str(p))
        for arm in (1, 2)
    }
    assert runs[1] == runs[2] == list(range(1, 16))  # both arms share run numbers
    with fits.open(out / "250827" / "ccd_2" / "27aug20015.fits") as obj:
        h = obj[0].header
        missing = [k for k in HEADER_KEYWORDS if k not in h]
        assert missing == []
        assert (h["NDFCLASS"], h["SPECTID"], h["GRATID"], h["INSTRUME"]) == (
            "MFOBJECT",
            "RD",
            "385R",
            "AAOMEGA-2dF",
        )
        assert h["FILEORIG"].endswith("/250827/ccd_2/27aug20015.fits")
        fib = obj["FIBRES"]
        assert fib.columns.names == FIBRE_COLUMNS
        assert {"CENRA", "CENDEC", "LABEL", "PLATEID"} <= set(fib.header)
        assert set(fib.data["TYPE"]) <= set("PSUFN") and "N" in set(fib.data["TYPE"])
        # positions are in radians and near the field centre
        assert np.all(np.abs(fib.data["DEC"] - fib.header["CENDEC"]) < np.radians(1.01))


def test_images_match_their_truth(night):
    out, _ = night
    flat = out / "250827" / "ccd_1" / "27aug10006.fits"
    h = fits.getheader(flat)
    data = fits.getdata(flat).astype(float)
    truth = np.load(flat.with_name(flat.stem + "_truth.npz"))
    # the overscan holds the bias level with the read noise the header states
    overscan = data[:, h["WINDOXS2"] - 1 : h["WINDOXE2"]]
    assert overscan.mean() == pytest.approx(truth["bias"], abs=0.5)
    assert overscan.std() == pytest.approx(h["RO_NOISE"] / h["RO_GAIN"], rel=0.1)
    # each lit fibre's light peaks on the row its trace passes through
    types = fits.getdata(flat, "FIBRES")["TYPE"]
    col = 40
    for f in np.flatnonzero(types != "N")[::5]:
        y = truth["trace"][f, col]
        window = data[int(y) - 2 : int(y) + 3, col]
        assert abs(int(y) - 2 + int(np.argmax(window)) - y) <= 1.0
    # broken fibres carry no light
    for f in np.flatnonzero(types == "N"):
        y = round(float(truth["trace"][f, col]))
        assert data[y, col] < truth["bias"] + 10 * h["RO_NOISE"]
    # cosmic rays are recorded where they hit an object frame
    obj = out / "250827" / "ccd_1" / "27aug10008.fits"
    cr = np.load(obj.with_name(obj.stem + "_truth.npz"))["cosmic"]
    image = fits.getdata(obj)[:, : cr.shape[1]]  # the mask covers the data region
    assert cr.any() and np.all(image[cr] > truth["bias"] + 500)


def test_archive_index_in_postgresql(night, database_url):
    out, _ = night
    frame, problems = index_directory(out)
    assert problems == [] and len(frame) == 30
    assert dict(frame["ndfclass"].value_counts()) == {
        "MFOBJECT": 12,
        "BIAS": 6,
        "DARK": 4,
        "MFFFF": 4,
        "MFARC": 4,
    }
    assert set(frame["lamp"][frame["ndfclass"] == "MFFFF"]) == {"Dome"}
    assert store_index(frame) == 30
    arcs = query_frames(night_from="250827", night_to="250827", ndfclass="MFARC", arm="red")
    assert list(arcs["file"]) == ["27aug20007.fits", "27aug20012.fits"]
    # (other tests index other nights into the same database)
    night_only = {"night_from": "250827", "night_to": "250827"}
    assert len(query_frames(programme="A/2025B/001", grating="580V", **night_only)) == 15
    assert len(query_frames(programme="A/2099A/001", **night_only)) == 0
    assert len(query_frames(night_from="250828", night_to="250828")) == 0
    assert len(query_frames(object_contains="F02", ndfclass="MFOBJECT", **night_only)) == 6


def test_plan_picks_same_field_calibrations(night):
    frame, _ = index_directory(night[0])
    groups = plan_night(frame)
    assert len(groups) == 4 and all(g.ok for g in groups)
    red_f02 = next(g for g in groups if g.arm == "red" and g.field_id.endswith("F02_250827_p1"))
    assert red_f02.objects == ["27aug20013.fits", "27aug20014.fits", "27aug20015.fits"]
    assert (red_f02.choices["tlm"].files, red_f02.choices["tlm"].rule) == (
        ["27aug20011.fits"],
        "tlmap",
    )
    assert (red_f02.choices["arc"].files, red_f02.choices["arc"].rule) == (
        ["27aug20012.fits"],
        "wavel",
    )
    assert red_f02.options == {"USEBIASIM": 1, "USEDARKIM": 1}


def test_plan_falls_back_and_explains(night, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(night[0], raw)
    (raw / "250827" / "ccd_2" / "27aug20012.fits").unlink()  # F02's red arc
    for p in (raw / "250827" / "ccd_1").glob("27aug1000[1-5].fits"):
        p.unlink()  # blue biases and darks
    groups = plan_night(index_directory(raw)[0])
    red_f02 = next(g for g in groups if g.arm == "red" and g.field_id.endswith("F02_250827_p1"))
    # the nearest other arc of the same arm and set-up, named with its rule
    assert (red_f02.choices["arc"].files, red_f02.choices["arc"].rule) == (
        ["27aug20007.fits"],
        "wavel_loose",
    )
    blue = [g for g in groups if g.arm == "blue"]
    assert all(g.options == {"USEBIASIM": 0, "USEDARKIM": 0} for g in blue)
    assert all(g.ok for g in groups)


def test_plan_without_an_arc_names_the_frames(night, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(night[0], raw)
    for name in ("27aug20007.fits", "27aug20012.fits"):
        (raw / "250827" / "ccd_2" / name).unlink()
    res = subprocess.run(
        [sys.executable, "-m", "hectornb.cli", "reduce", "plan", str(raw)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert res.returncode == 1
    problems = [ln for ln in res.stdout.splitlines() if "PROBLEM" in ln]
    assert len(problems) == 2  # the two red groups; the blue ones still plan
    assert "no arc (MFARC)" in problems[0] and "27aug20008.fits" in problems[0]


def test_unreadable_frame_is_named_and_left_out(night, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(night[0], raw)
    (raw / "250827" / "ccd_1" / "27aug10010.fits").write_bytes(b"not a FITS file")
    frame, problems = index_directory(raw)
    assert len(frame) == 29
    assert len(problems) == 1 and "27aug10010.fits" in problems[0]
