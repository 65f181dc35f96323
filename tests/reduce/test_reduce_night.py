"""``hectornb reduce night``: a simulated night reduced on a real Dask cluster into 2dfdr
products, a bad frame failing alone, and a worker killed mid-night."""

from __future__ import annotations

import datetime as dt
import filecmp
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from support.raw_frames import break_data

from hectornb.config import Settings
from hectornb.simulate import galaxy_continuum_ratios, simulate_night
from hectornb.spectra import read

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def raw_night(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("night") / "raw"
    simulate_night(out, date=dt.date(2025, 8, 27), size="small", seed=5)
    return out


@pytest.fixture(scope="module")
def reduced(raw_night, tmp_path_factory):
    out = tmp_path_factory.mktemp("reduced")
    proc = subprocess.run(
        [
            str(BIN / "hectornb"),
            "reduce",
            "night",
            str(raw_night),
            "--out",
            str(out),
            "--workers",
            "2",
            "--option",
            "RWSS=1",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    return proc, out


def test_cli_reduces_the_whole_night_into_2dfdr_products(reduced, raw_night):
    proc, out = reduced
    assert proc.returncode == 0, proc.stderr
    night = out / "250827"
    objects = sorted(raw_night.glob("250827/ccd_*/*.fits"))
    object_frames = [p for p in objects if fits.getheader(p)["NDFCLASS"] == "MFOBJECT"]
    assert len(object_frames) == 12
    for raw in object_frames:
        product = night / raw.parent.name / f"{raw.stem}red.fits"
        assert product.exists(), product
    for arm in ("ccd_1", "ccd_2"):
        assert sorted(p.name for p in (night / arm).glob("*_combined.fits")) == [
            "F01_250827_p0_combined.fits",
            "F02_250827_p1_combined.fits",
        ]
        assert (night / arm / "BIAScombined.fits").exists()
        assert len(list((night / arm).glob("*tlm.fits"))) == 2
    assert sorted(p.name for p in (night / "spliced").iterdir()) == [
        "F01_250827_p0_spliced.fits",
        "F02_250827_p1_spliced.fits",
    ]
    assert "34 of 34 steps done" in proc.stdout
    assert str(out.resolve()) in proc.stdout
    # one progress line per step when stderr is not a terminal
    assert proc.stderr.count("] done") == 34


def test_products_hold_what_2dfdr_writes_and_specutils_reads_them(reduced, raw_night):
    from specutils import SpectrumList

    _, out = reduced
    red = out / "250827" / "ccd_2" / "27aug20008red.fits"
    with fits.open(red) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY",
            "VARIANCE",
            "FIBRES",
            "SKY",
            "REDUCTION_ARGS",
            "RWSS",
        ]
        assert hdul[0].header["CUNIT1"] == "Angstroms"
        assert hdul[0].header["NDFCLASS"] == "MFOBJECT"
        history = "\n".join(hdul[0].header["HISTORY"])
    assert "Divided by fibre flat field" in history and "Sky subtracting" in history
    frame = read(red)
    assert frame.reduction_args["INC_RWSS"] == "1"
    assert frame.reduction_args["TLMAP_FILENAME"] == "27aug20006tlm.fits"
    assert frame.reduction_args["WAVEL_FILENAME"] == "27aug20007red.fits"
    assert frame.reduction_args["BIAS_FILENAME"] == "BIAScombined.fits"
    assert frame.reduction_args["DARK_FILENAME"] == "DARKcombined900.fits"
    spectra = SpectrumList.read(red, format="Data Central AAOmega")
    assert len(spectra) > 0
    # the grid lies inside every fibre's true wavelength range, to within the flexure
    # since the arc (the grid comes from the arc; the simulator moves objects < 1 pixel)
    truth = np.load(raw_night / "250827" / "ccd_2" / "27aug20008_truth.npz")
    lit = frame.fibres["TYPE"] != "N"
    step = frame.wavelength[1] - frame.wavelength[0]
    assert frame.wavelength[0] >= truth["wave"][lit, 0].max() - step
    assert frame.wavelength[-1] <= truth["wave"][lit, -1].min() + step
    # sky fibres are flat after sky subtraction; programme fibres keep their galaxy
    types = np.asarray(frame.fibres["TYPE"])
    sky_level = np.mean(frame.sky)
    sky_resid = np.nanmean(frame.flux[types == "S"], axis=1) / sky_level
    assert np.median(np.abs(sky_resid)) < 0.02
    programme = np.flatnonzero(lit & (types == "P"))
    thr = truth["throughput"]
    raw = raw_night / "250827" / "ccd_2" / "27aug20008.fits"
    ratios = galaxy_continuum_ratios(
        frame.flux, frame.wavelength, raw, programme, np.median(thr[lit])
    )
    assert np.median(ratios) == pytest.approx(1.0, abs=0.05)


def test_combined_and_spliced_products(reduced):
    _, out = reduced
    night = out / "250827"
    combined = read(night / "ccd_1" / "F01_250827_p0_combined.fits")
    singles = [read(night / "ccd_1" / f"27aug1{k:04d}red.fits") for k in (8, 9, 10)]
    assert combined.header["NCOMBINE"] == 3
    assert "27aug10008red.fits" in combined.reduction_args["COMBINED_FILES"]
    lit = np.asarray(combined.fibres["TYPE"]) == "P"
    scales = [
        float(line.rsplit("1/", 1)[1])
        for line in combined.header["HISTORY"]
        if line.startswith("Combined ")
    ]
    assert len(scales) == 3 and all(abs(s - 1) < 0.02 for s in scales)  # equal exposures
    mean = np.mean([s.flux[lit] / k for s, k in zip(singles, scales, strict=True)], axis=0)
    # the combination is the mean of the scaled exposures where nothing was rejected
    assert np.median(np.abs(combined.flux[lit] - mean)) < 1e-4 * np.median(mean)
    assert 0 < combined.header["NREJECT"] < 1e-3 * combined.flux.size * 3
    assert np.nanmedian(combined.variance[lit] / singles[0].variance[lit]) == pytest.approx(
        1 / 3, rel=0.1
    )
    spliced = read(night / "spliced" / "F01_250827_p0_spliced.fits")
    blue = combined
    red = read(night / "ccd_2" / "F01_250827_p0_combined.fits")
    assert spliced.wavelength[0] == pytest.approx(blue.wavelength[0])
    assert spliced.wavelength[-1] == pytest.approx(red.wavelength[-1], abs=2.0)
    assert spliced.header["BUNIT"] == "electron / Angstrom"
    # blue part: the blue arm per Angstrom, resampled
    step = blue.wavelength[1] - blue.wavelength[0]
    f = int(np.flatnonzero(lit)[0])
    inside = (spliced.wavelength > blue.wavelength[5]) & (spliced.wavelength < blue.wavelength[-5])
    on_blue = np.interp(spliced.wavelength[inside], blue.wavelength, blue.flux[f] / step)
    assert np.median(spliced.flux[f, inside] / on_blue) == pytest.approx(1.0, abs=0.02)


def test_bad_frames_fail_alone_with_their_reason(raw_night, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(raw_night, raw)
    break_data(raw / "250827" / "ccd_2" / "27aug20012.fits")  # the red arc of field F02
    (raw / "250827" / "ccd_1" / "27aug10014.fits").write_bytes(
        (raw_night / "250827" / "ccd_1" / "27aug10014.fits").read_bytes()[: 2880 * 3]
    )  # an object frame cut short after its header
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(BIN / "hectornb"), "reduce", "night", str(raw), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 1
    night = out / "250827"
    assert "failed  reduce_arc 27aug20012.fits (red arm): ArcError" in proc.stderr
    assert "failed  reduce_object 27aug10014.fits (blue arm" in proc.stderr
    assert "skipped reduce_object 27aug20013.fits (red arm" in proc.stderr
    assert "needs reduce_arc 27aug20012.fits (red arm)" in proc.stderr
    # everything else completed: field F01 both arms, F02 blue from 2 of its 3 exposures
    assert (night / "spliced" / "F01_250827_p0_spliced.fits").exists()
    assert not (night / "spliced" / "F02_250827_p1_spliced.fits").exists()
    f02_blue = read(night / "ccd_1" / "F02_250827_p1_combined.fits")
    assert f02_blue.header["NCOMBINE"] == 2
    assert "27aug10014" not in f02_blue.reduction_args["COMBINED_FILES"]
    # 12 objects + 4 arcs + 4 fibre flats, less the red F02 arc, flat and objects and 10014
    assert len(list(night.glob("ccd_*/27aug*red.fits"))) == 20 - 1 - 1 - 3 - 1


def test_unknown_option_is_refused_before_anything_runs(raw_night, tmp_path):
    proc = subprocess.run(
        [
            str(BIN / "hectornb"),
            "reduce",
            "night",
            str(raw_night),
            "--out",
            str(tmp_path / "o"),
            "--option",
            "COSMIC=maybe",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "COSRAY_MTHD='maybe': allowed values are NONE, PROFILE, LACOSMIC" in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.fixture
def dask_cluster(tmp_path):
    """A Dask scheduler and two nanny-supervised workers as separate processes on loopback.
    The scheduler takes a port of its own and says it in its file: a port chosen here and
    let go could be taken by another process before the scheduler binds it."""
    import json

    where = tmp_path / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [
        subprocess.Popen(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--scheduler-file",
                str(where),
                "--no-dashboard",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    deadline, address = time.monotonic() + 60, None
    while address is None and time.monotonic() < deadline:
        try:
            address = json.loads(where.read_text())["address"]
        except (OSError, ValueError, KeyError):  # not written yet, or half written
            time.sleep(0.2)
    assert address, "the Dask scheduler did not start within 60 s"
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "dask"),
                    "worker",
                    address,
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--memory-limit",
                    "2GiB",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    yield address
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def test_a_worker_killed_mid_night_changes_nothing(raw_night, reduced, dask_cluster, tmp_path):
    from distributed import Client

    from hectornb.reduce.run import reduce_night

    _, undisturbed = reduced
    settings = Settings(home=tmp_path, dask_scheduler=dask_cluster)
    with Client(dask_cluster) as client:
        pids = client.run(os.getpid)
    killed = []

    def kill_one(result, done, total):
        if done == 8 and not killed:
            with Client(dask_cluster) as client:
                busy = [w for w, tasks in client.processing().items() if tasks] or list(pids)
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])

    out = tmp_path / "out"
    run = reduce_night(raw_night, out, options={"RWSS": 1}, on_result=kill_one, settings=settings)
    assert killed, "no worker was killed"
    assert run.ok, [r.describe() for r in run.failures()]
    with Client(dask_cluster) as client:  # the nanny restarted the killed worker
        deadline = time.monotonic() + 30
        while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert set(client.run(os.getpid).values()) != set(pids.values())
    products = sorted(p.relative_to(out) for p in out.rglob("*.fits"))
    assert products == sorted(p.relative_to(undisturbed) for p in undisturbed.rglob("*.fits"))
    different = [
        str(p) for p in products if not filecmp.cmp(out / p, undisturbed / p, shallow=False)
    ]
    assert different == []


def test_a_hector_night_with_every_sky_option(tmp_path):
    """Hector's slit and 580V + 1000R, with PCASKY and TELCOR on, end to end."""
    from hectornb.reduce.run import reduce_night

    raw = tmp_path / "raw"
    simulate_night(
        raw,
        date=dt.date(2025, 8, 27),
        instrument="hector",
        size="small",
        fields=1,
        exposures=2,
        seed=8,
    )
    run = reduce_night(raw, tmp_path / "out", options={"PCASKY": 1, "TELCOR": 1}, workers=2)
    assert run.ok, [r.describe() for r in run.failures()]
    red = read(next(p for p in run.products("reduce_object") if "ccd_2" in str(p)))
    history = "\n".join(red.header["HISTORY"])
    for step in (
        "Sky-line wavelength correction",
        "PCA sky residual removal with",
        "Telluric correction from",
    ):
        assert step in history
    assert red.reduction_args["PCASKY"] == "1" and red.reduction_args["TELCOR"] == "1"
    assert len(red.fibres) == 63 and red.header["GRATID"] == "1000R"
