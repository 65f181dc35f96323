"""The Reduce service: jobs in the real PostgreSQL, run on a real Dask cluster, e-mail over
a real SMTP server on loopback (aiosmtpd), access control between two users, identical
requests, cancelling, and a runner killed mid-job."""

from __future__ import annotations

import dataclasses
import datetime as dt
import filecmp
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from email import message_from_bytes
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from support.harness import runner_process

from hectornb.config import Settings
from hectornb.errors import Forbidden, Invalid
from hectornb.simulate import simulate_night

BIN = Path(sys.executable).parent
PROGRAMME = "A/2025B/001"  # what the simulator writes in AAOPRGID


def _root(settings: Settings) -> str:
    return f"{settings.home}/reduce/"


@pytest.fixture(scope="module")
def settings(database_url, tmp_path_factory) -> Settings:
    return dataclasses.replace(
        Settings.from_env(), home=tmp_path_factory.mktemp("paws"), reduce_workers=2, job_lease=3.0
    )


@pytest.fixture(scope="module")
def archive(settings, tmp_path_factory):
    """A simulated night in the archive index; its programme proprietary to alice."""
    from hectornb.demo import index_simulated_night

    raw = tmp_path_factory.mktemp("archive") / "raw"
    frames = index_simulated_night(raw, ("alice",), settings, date=dt.date(2025, 8, 29), seed=5)
    assert len(frames) == 30
    objects = sorted(frames.loc[frames["ndfclass"] == "MFOBJECT", "path"])
    return {"raw": raw, "frames": frames, "objects": objects}


@pytest.fixture(scope="module")
def mailbox():
    """A real SMTP server on loopback; the messages it receives."""
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(message_from_bytes(envelope.content))
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield {"host": "127.0.0.1", "port": port, "messages": received}
    controller.stop()


@pytest.fixture()
def runner(settings, mailbox):
    from hectornb.reduce.runner import ReductionRunner

    with_mail = dataclasses.replace(
        settings,
        smtp_host=mailbox["host"],
        smtp_port=mailbox["port"],
        public_url="http://paws.example:8866",
    )
    r = ReductionRunner(with_mail, poll_seconds=0.2).start()
    yield r
    r.stop()


def _wait(store, job_id: str, user: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = store.get(job_id, user)
        if job.final:
            return job
        time.sleep(0.2)
    raise AssertionError(f"request {job_id} still {store.get(job_id, user).status}")


def test_a_request_runs_to_the_end_with_steps_events_and_mail(archive, settings, runner, mailbox):
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore(settings)
    job = submit(
        "alice",
        night_from="250829",
        night_to="250829",
        options={"TELCOR": 1},
        email="alice@example.org",
        settings=settings,
    )
    assert job.status == "queued" and job.frames == archive["objects"]
    job = _wait(store, job.id, "alice")
    assert job.status == "done", job.message
    assert (job.steps_done, job.steps_total) == (34, 34)
    steps = store.steps(job.id, "alice")
    assert [s["status"] for s in steps] == ["done"] * 34
    assert all(Path(s["output"]).exists() for s in steps)
    # the plan says which calibrations were chosen, and why
    groups = job.plan["groups"]
    assert len(groups) == 4 and all(
        {"tlm", "arc", "fflat", "bias"} <= set(g["calibrations"]) for g in groups
    )
    assert all(g["calibrations"]["arc"]["rule"] for g in groups)
    events = store.events(job.id, "alice")
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["submitted", "started"] and kinds.count("step") == 34
    assert "finished" in kinds
    # the events after one (the e-mail's may have come meanwhile: it follows the end)
    later = store.events(job.id, "alice", after=events[-2]["seq"])
    assert later[0] == events[-1] and all(e["seq"] > events[-2]["seq"] for e in later)
    # e-mail at the start and at the end, with the status page and the downloads (the last
    # one leaves once the request is final: it may still be on its way)
    deadline = time.monotonic() + 30
    while True:
        mails = [m for m in mailbox["messages"] if job.id[:8] in m["Subject"]]
        if len(mails) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [m["Subject"].rsplit(" ", 1)[-1] for m in mails] == ["started", "done"]
    assert all(m["To"] == "alice@example.org" for m in mails)
    body = mails[-1].get_payload(decode=True).decode()
    assert f"http://paws.example:8866/voila/render/reduce.ipynb?job={job.id}" in body
    assert f"/hectornb/api/reduce/jobs/{job.id}/download?what=raw" in body


def test_downloads_hold_what_they_say_with_the_log(archive, settings, runner, tmp_path):
    from hectornb.reduce.service import package, submit
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore(settings)
    job = _wait(store, submit("alice", archive["objects"][:3], settings=settings).id, "alice")
    assert job.status == "done", job.message
    steps = store.steps(job.id, "alice")
    names = {}
    for what in ("reduced", "raw", "all"):
        with zipfile.ZipFile(package(job, steps, what, tmp_path / f"{what}.zip")) as zf:
            assert zf.testzip() is None
            names[what] = set(zf.namelist())
            log = zf.read("log.txt").decode()
    reduced = {n for n in names["reduced"] if n.endswith(".fits")}
    assert {Path(n).name for n in reduced} == {
        f"{Path(p).stem}red.fits" for p in archive["objects"][:3]
    } | {"F01_250829_p0_combined.fits"}
    raws = {n for n in names["raw"] - names["reduced"]}
    assert {Path(n).name for n in raws} >= {Path(p).name for p in archive["objects"][:3]}
    calibrations = archive["frames"].query("ndfclass != 'MFOBJECT'")["file"]
    assert {Path(n).name for n in raws} & set(calibrations)  # the calibrations it used
    assert names["all"] > names["raw"] and any(n.endswith("tlm.fits") for n in names["all"])
    assert len([line for line in log.splitlines() if line.startswith("[")]) == len(steps)
    assert "combine_bias: wrote" in log
    # every spectrum of every product, on paper
    pdfs = {n for n in names["reduced"] if n.endswith(".pdf")}
    assert {n[:-4] for n in pdfs} == {n[:-5] for n in reduced}


def test_users_see_and_reduce_only_what_is_theirs(archive, settings):
    from hectornb.reduce.access import set_programme
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore(settings)
    job = submit("alice", archive["objects"][:1], settings=settings)
    with pytest.raises(Forbidden, match="not a member"):
        submit("bob", archive["objects"][:2], settings=settings)
    # bob's night range holds alice's programme's frames: he is told so, and how to join
    with pytest.raises(
        Forbidden,
        match=rf"night 250829: .* not a member .*{PROGRAMME} "
        rf"\(\d+ frames\).* hectornb programme set {PROGRAMME} --member bob",
    ):
        submit("bob", night_from="250829", night_to="250829", settings=settings)
    # a night may be given as the ISO date of its evening too
    iso = submit("alice", night_from="2025-08-29", settings=settings)
    assert set(iso.frames) == set(archive["objects"])
    store.cancel(iso.id, "alice")
    with pytest.raises(
        Invalid,
        match=r"no object frames \(MFOBJECT\) on night 250830; "
        r"the archive's latest nights with object frames: \d{6}",
    ):
        submit("alice", night_from="2025-08-30", settings=settings)
    with pytest.raises(Invalid, match="'2025-02-30' is not a night: give yymmdd"):
        submit("alice", night_from="2025-02-30", settings=settings)
    with pytest.raises(Invalid, match=r"the last night \(2024-10-01\) is before the first"):
        submit("alice", night_from="2025-10-01", night_to="2024-10-01", settings=settings)
    for far in ("9999-12-31", "0001-01-01", "20690101"):  # no yymmdd name: refused, not wrapped
        with pytest.raises(Invalid, match="names nights yymmdd, which reaches only 1969–2068"):
            submit("alice", night_from=far, settings=settings)
    for call in (store.get, store.steps, store.events, store.cancel):
        with pytest.raises(Forbidden):
            call(job.id, "bob")
    assert job.id not in [j.id for j in store.list("bob")]
    assert job.id in [j.id for j in store.list("alice")]
    store.cancel(job.id, "alice")
    # once the programme is public anyone may reduce its frames
    set_programme(PROGRAMME, dt.date.today(), settings=settings)
    try:
        public = submit("bob", archive["objects"][:1], settings=settings)
        assert store.cancel(public.id, "bob").status == "cancelled"
    finally:
        set_programme(PROGRAMME, None, settings=settings)


def test_bad_requests_are_refused_with_the_reason(archive, settings):
    from hectornb.reduce.service import submit

    with pytest.raises(Invalid, match=r"not in the archive index: nowhere\.fits"):
        submit("alice", ["nowhere.fits"], settings=settings)
    with pytest.raises(Invalid, match="unknown option 'FOO'"):
        submit("alice", archive["objects"][:1], options={"FOO": 1}, settings=settings)
    for address in (
        "alice at home",
        "alice@example.org,victim@example.net",
        "alice@example.org; bob@example.org",
        "Alice <alice@example.org>",
    ):
        with pytest.raises(Invalid, match="not one e-mail address"):
            submit("alice", archive["objects"][:1], email=address, settings=settings)
    calibrations = list(archive["frames"].query("ndfclass == 'MFARC'")["path"])
    with pytest.raises(Invalid, match="chosen automatically"):
        submit("alice", calibrations, settings=settings)


def test_a_2dfdr_request_is_refused_for_an_arm_it_has_no_idx_file_for(
    archive, settings, tmp_path, monkeypatch
):
    """2dF's red 385R grating has no idx file 2dFdr is known to ship: a 2dFdr request of
    both arms is refused at once, not half reduced; one arm with its idx file is taken, and
    both with an idx file for 385R alone.
    A 2dFdr engine that is not installed is refused before any of that."""
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    frames = archive["frames"]
    objects = frames[frames["ndfclass"] == "MFOBJECT"]
    assert set(objects["grating"]) == {"580V", "385R"}
    python = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", python)
    with pytest.raises(Invalid, match="aaorun is not on PATH"):
        submit("alice", archive["objects"], engine="2dfdr", settings=settings)
    installed = tmp_path / "bin"
    installed.mkdir()
    (installed / "aaorun").write_text("#!/bin/sh\nexit 0\n")
    (installed / "aaorun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{installed}{os.pathsep}{python}")
    with pytest.raises(Invalid) as refused:
        submit("alice", archive["objects"], engine="2dfdr", settings=settings)
    assert "no 2dFdr idx file is known for grating 385R" in str(refused.value)
    assert "IDXFILE=<grating>:<file.idx>" in str(refused.value)
    store = ReductionStore(settings)
    red = sorted(objects.loc[objects["grating"] == "385R", "path"])
    taken = submit(
        "alice", red, engine="2dfdr", options={"IDXFILE": "aaomega385R.idx"}, settings=settings
    )
    assert store.cancel(taken.id, "alice").status == "cancelled"
    # both arms at once, with an idx file for the grating 2dFdr has none of
    both = {"IDXFILE": "385R:aaomega385R.idx"}
    taken = submit("alice", archive["objects"], engine="2dfdr", options=both, settings=settings)
    assert store.cancel(taken.id, "alice").status == "cancelled"


def test_identical_requests_never_run_at_once_and_share_products(archive, settings):
    from hectornb.reduce.runner import ReductionRunner
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore(settings)
    frames = archive["objects"][3:6]
    first = submit("alice", frames, options={"SKYSCR": 0}, settings=settings)
    second = submit("alice", frames, options={"SKYSCRUNCH": "0"}, settings=settings)
    assert first.same_as == second.same_as and first.outdir == second.outdir
    held = store.claim("test-runner-1", settings.job_lease, _root(settings))
    assert held.id == first.id
    assert store.claim("test-runner-2", settings.job_lease, _root(settings)) is None  # waits
    runner = ReductionRunner(settings)
    from hectornb.reduce.run import dask_client

    with dask_client(1, settings) as client:
        runner.client = client
        done = runner.run_job(held)
        assert done.status == "done", done.message
        again = store.claim("test-runner-2", settings.job_lease, _root(settings))
        assert again.id == second.id
        repeat = runner.run_job(again)
    assert repeat.status == "done"
    assert {s["reason"] for s in store.steps(second.id, "alice")} == {"written before"}


def test_cancelling_stops_a_running_request(archive, settings):
    from hectornb.reduce.runner import ReductionRunner
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore(settings)
    job = submit("alice", archive["objects"][6:9], options={"PCASKY": 1}, settings=settings)
    held = store.claim("test-runner-3", settings.job_lease, _root(settings))
    assert held.id == job.id
    assert store.cancel(job.id, "alice").status == "cancelling"
    runner = ReductionRunner(settings)
    from hectornb.reduce.run import dask_client

    with dask_client(1, settings) as client:
        runner.client = client
        final = runner.run_job(held)
    assert final.status == "cancelled"
    assert {s["status"] for s in store.steps(job.id, "alice")} == {"cancelled"}
    assert not list(Path(job.outdir).rglob("*red.fits"))


def test_a_runner_killed_mid_request_is_taken_over_and_products_are_identical(
    archive, settings, tmp_path
):
    """The server (here the runner service) dies with its Dask workers; after the lease
    another runner resumes the request from the steps already written."""
    from hectornb.reduce.run import reduce_night
    from hectornb.reduce.runner import ReductionRunner
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore(settings)
    job = submit(
        "alice", night_from="250829", night_to="250829", options={"RWSS": 1}, settings=settings
    )
    env = {
        **os.environ,
        "HECTORNB_HOME": str(settings.home),
        "HECTORNB_JOB_LEASE": "3",
        "HECTORNB_REDUCE_WORKERS": "1",
    }
    with runner_process(env):
        deadline = time.monotonic() + 120
        while store.get(job.id, "alice").steps_done < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
    killed = store.get(job.id, "alice")
    assert killed.status == "running" and 8 <= killed.steps_done < 34, killed
    other = ReductionRunner(settings, poll_seconds=0.2).start()
    try:
        final = _wait(store, job.id, "alice")
    finally:
        other.stop()
    assert final.status == "done", final.message
    assert final.attempts == 2
    assert "resumed" in [e["kind"] for e in store.events(job.id, "alice")]
    undisturbed = tmp_path / "undisturbed"
    assert reduce_night(
        archive["raw"], undisturbed, options={"RWSS": 1}, workers=1, settings=settings
    ).ok
    out = Path(final.outdir)
    products = sorted(p.relative_to(out) for p in out.rglob("*.fits"))
    assert products == sorted(p.relative_to(undisturbed) for p in undisturbed.rglob("*.fits"))
    assert [
        str(p) for p in products if not filecmp.cmp(out / p, undisturbed / p, shallow=False)
    ] == []


def test_the_demo_night_is_ready_to_reduce(database_url):
    """``./dev.sh demo`` simulates and indexes a night its user may reduce at once."""
    from hectornb.demo import load_demo_night
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    assert "30 raw frames indexed" in load_demo_night("dana")
    assert "30 raw frames indexed" in load_demo_night("dana")  # again: nothing changes
    job = submit("dana", night_from="251001", night_to="251001")
    assert len(job.frames) == 12
    # a running platform's runner may have taken it already: then it stops between steps
    assert ReductionStore().cancel(job.id, "dana").status in ("cancelled", "cancelling")

    # and its observing log: a run, one entry per blue object exposure with its frame
    from hectornb.demo import load_demo_log
    from hectornb.obslog import ObslogStore

    assert load_demo_log("dana") == (
        "observing log: a run, 2 tiles and 6 entries for the demo night"
    )
    assert load_demo_log("dana") == "observing log: already loaded"
    logs = ObslogStore().list("logs", {"run_id": ["DEMO-2025-10"], "order_by": ["time"]})
    assert logs["total"] == 6 and all(len(g["frames"]) == 1 for g in logs["items"])
    # as a real night's log: each entry at its exposure's UT, on the tile observed
    times = [g["time"] for g in logs["items"]]
    assert all(t.date() == dt.date(2025, 10, 1) for t in times) and times == sorted(times)
    tiles = {g["tile_id"] for g in logs["items"]}
    assert len(tiles) == 2 and all(ObslogStore().get("tiles", t)["ra"] for t in tiles)
    assert ObslogStore().is_observer("dana")

    # and the TAP catalogues: the real demo catalogues and the simulated fields' truth
    from hectornb.demo import load_demo_catalogues
    from hectornb.tap import TapService

    assert "demo.simulated_fields" in load_demo_catalogues()
    assert load_demo_catalogues() == "TAP catalogues: already published"
    # and the shipped 2dfdr products' spectra in ObsCore: the public ones anyone's, the
    # ones of no programme their loader's alone
    from hectornb.demo import load_demo_spectra
    from hectornb.spectra.index import SpectrumIndex
    from hectornb.spectra.products import EXAMPLES, find_products

    said = load_demo_spectra("dana")
    assert said == load_demo_spectra("dana")  # again: the same spectra, replaced
    shipped = int(said.split(": ")[1].split()[0])
    assert shipped >= len(find_products(EXAMPLES))  # one per program fibre of each
    examples = [
        r
        for r in SpectrumIndex().search("dana", maxrec=100_000)[0]
        if "aaomega-2dfdr-reduced" in r["obs_publisher_did"]
    ]
    assert len(examples) == shipped
    public = [
        r
        for r in SpectrumIndex().search(None, maxrec=100_000)[0]
        if "aaomega-2dfdr-reduced" in r["obs_publisher_did"]
    ]
    assert 0 < len(public) < shipped
    tap = TapService()
    fields = tap.query(
        "SELECT field, COUNT(*), MIN(z), MAX(z), MIN(mag) FROM "
        "demo.simulated_fields GROUP BY field ORDER BY field",
        None,
    ).rows
    assert len(fields) == 2 and all(n > 10 for _, n, *_ in fields)
    assert all(0.01 <= lo <= hi <= 0.1 and m >= 15.5 for _, _, lo, hi, m in fields)
    counts = {
        t: tap.query(f"SELECT COUNT(*) FROM {t}", None).rows[0][0]
        for t in ("gaia.dr3_bright", "hipparcos.main", "openngc.galaxies")
    }
    assert counts["gaia.dr3_bright"] > 400_000 and counts["hipparcos.main"] > 100_000
    assert counts["openngc.galaxies"] > 5_000
    # the brightest stars, which Gaia lacks, are Hipparcos's: named by HIP, not a Gaia id
    sirius = tap.query(
        "SELECT source_id, hip, ra, dec FROM gaia.dr3_bright WHERE hip = 32349", None
    ).rows
    assert len(sirius) == 1 and sirius[0][0] is None
    assert abs(sirius[0][2] - 101.287) < 0.01 and abs(sirius[0][3] + 16.716) < 0.01
    negative = "SELECT COUNT(*) FROM gaia.dr3_bright WHERE source_id < 0"
    assert tap.query(negative, None).rows[0][0] == 0


def _run_to_the_end(settings, job_id: str, user: str = "alice"):
    from hectornb.reduce.runner import ReductionRunner
    from hectornb.reduce.store import ReductionStore

    runner = ReductionRunner(settings, poll_seconds=0.2).start()
    try:
        return _wait(ReductionStore(settings), job_id, user)
    finally:
        runner.stop()


def test_a_corrupt_raw_frame_fails_alone_and_says_why(archive, settings, tmp_path):
    from hectornb.reduce import index_directory, store_index
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    raw = tmp_path / "raw"
    simulate_night(raw, date=dt.date(2025, 9, 11), size="small", seed=8, fields=1)
    frames, _ = index_directory(raw)
    store_index(frames, settings)
    broken = sorted(frames.loc[frames["ndfclass"] == "MFOBJECT", "path"])[1]
    data = Path(broken).read_bytes()
    Path(broken).write_bytes(data[: len(data) // 2])  # the transfer stopped half way
    job = submit("alice", night_from="250911", night_to="250911", settings=settings)
    final = _run_to_the_end(settings, job.id)
    assert final.status == "partial"
    steps = ReductionStore(settings).steps(job.id, "alice")
    failed = [s for s in steps if s["status"] != "done"]
    assert [s["frame"] for s in failed] == [Path(broken).name]
    assert Path(broken).name in final.message and failed[0]["reason"]
    combined = [s for s in steps if s["task"] == "combine_image"]
    assert all(s["status"] == "done" for s in combined)  # from the exposures that survived


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
        ).returncode
        == 0
    )


def test_a_full_output_disk_ends_the_request_with_the_reason(archive, settings, tmp_path):
    """The products' file system fills up (a 4 MB tmpfs): the request ends, naming the
    frames and the full disk; no half-written product is left behind."""
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    full = dataclasses.replace(settings, home=tmp_path / "home")
    if not _mount_tmpfs(full.home / "reduce", "4m"):
        pytest.skip("cannot mount a small tmpfs here (needs root): disk-full not tested")
    try:
        job = submit("alice", archive["objects"], options={"PCASKY": 1}, settings=full)
        final = _run_to_the_end(full, job.id)
        assert final.status in ("partial", "failed")
        full_disk = re.compile("No space left on device|Not enough space on disk")
        assert full_disk.search(final.message)
        steps = ReductionStore(full).steps(job.id, "alice")
        assert any(full_disk.search(s["reason"]) for s in steps if s["status"] == "failed")
        assert any(s["status"] == "done" for s in steps)  # it got some way first
        assert not list((full.home / "reduce").rglob("*.part"))
        for s in steps:
            if s["status"] == "done":
                with fits.open(s["output"]) as hdul:  # whole files only
                    hdul.verify("exception")
    finally:
        subprocess.run(["umount", "-l", str(full.home / "reduce")], check=False)


def test_engine_versions_run_side_by_side_on_the_workers_that_have_them(archive, settings):
    """``builtin@<version>`` runs on workers started with ``--resources hectornb-<version>=1``
    (the local cluster's workers carry the installed version); a version no worker runs
    ends the request at once with how to provide it."""
    from hectornb import __version__
    from hectornb.reduce.service import submit

    frames = archive["objects"][9:12]
    current = submit("alice", frames, engine=f"builtin@{__version__}", settings=settings)
    plain = submit("alice", frames, settings=settings)
    assert current.same_as == plain.same_as  # the same engine: the same products
    old = submit("alice", frames, engine="builtin@0.0.1", settings=settings)
    assert old.same_as != plain.same_as
    assert _run_to_the_end(settings, current.id).status == "done"
    final = _run_to_the_end(settings, old.id)
    assert final.status == "failed"
    assert "no Dask worker runs builtin@0.0.1" in final.message
    assert "--resources hectornb-0.0.1=1" in final.message
    with pytest.raises(Invalid, match="engine must be one of"):
        submit("alice", frames, engine="iraf", settings=settings)
    _run_to_the_end(settings, plain.id)


def test_frames_landing_in_a_watched_directory_are_reduced_live(archive, settings, tmp_path):
    """As at the telescope: calibrations first, then object frames one by one; each is
    requested once its size settles and its calibrations are there, and only once."""
    import shutil

    from hectornb.reduce.live import Watcher

    source = archive["raw"]
    live = tmp_path / "live"
    watcher = Watcher(live, "alice", {"COSMIC": "NONE"}, settle_seconds=0.0, settings=settings)

    def land(pattern: str) -> list[Path]:
        out = []
        for path in sorted(source.glob(pattern)):
            target = live / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
            out.append(target)
        return out

    objects = [
        p
        for p in sorted(source.glob("*/ccd_2/*.fits"))
        if fits.getheader(p)["NDFCLASS"] == "MFOBJECT"
    ]
    first = live / objects[0].relative_to(source)
    first.parent.mkdir(parents=True)
    shutil.copy(objects[0], first)  # before any calibration of the night
    assert watcher.poll() == [] and watcher.poll() == []  # seen, settled, indexed; waits
    for path in sorted(source.glob("*/ccd_2/*.fits")):
        if fits.getheader(path)["NDFCLASS"] != "MFOBJECT":
            land(str(path.relative_to(source)))
    watcher.poll()  # the calibrations are seen
    jobs = watcher.poll()  # settled and indexed: the waiting frame goes
    assert [j.frames for j in jobs] == [[str(first.resolve())]]
    assert jobs[0].options["COSRAY_MTHD"] == "NONE"
    second = land(str(objects[1].relative_to(source)))[0]
    watcher.poll()
    assert [j.frames for j in watcher.poll()] == [[str(second.resolve())]]
    assert watcher.poll() == []  # nothing is requested twice
    again = Watcher(live, "alice", settle_seconds=0.0, settings=settings)  # a restart
    again.poll()
    assert again.poll() == []
    final = _run_to_the_end(settings, jobs[0].id)
    assert final.status == "done", final.message
    # its spectra are in ObsCore and SSA at once, for its programme's members alone
    from hectornb.spectra.index import SpectrumIndex

    folder = Path(final.outdir).name
    index = SpectrumIndex(settings)
    rows, _ = index.search("alice", maxrec=100_000)
    staged = [r for r in rows if f"spectra?{folder}/" in r["obs_publisher_did"]]
    tasks = ("reduce_object", "combine_image", "splice")
    products = [Path(final.outdir) / s["output"] for s in final.plan["steps"] if s["task"] in tasks]
    program = sum(int((fits.getdata(p, "FIBRES")["TYPE"] == "P").sum()) for p in products)
    assert products and len(staged) == program  # one per program fibre of its products
    assert all(r["calib_level"] in (2, 3) and r["target_name"] for r in staged)
    anonymous, _ = index.search(None, maxrec=100_000)
    assert not [r for r in anonymous if f"spectra?{folder}/" in r["obs_publisher_did"]]
    # its DataLink document: the file, what it came from and was calibrated with, the request
    import io

    from astropy.io.votable import parse_single_table

    from hectornb.server.vo_api import LinksHandler

    one = next(r for r in staged if r["calib_level"] == 2)
    body = LinksHandler.links([one["obs_publisher_did"]], "alice", "http://platform/")
    links = parse_single_table(io.BytesIO(body)).to_table()
    by = {}
    for row in links:
        by.setdefault(str(row["semantics"]), []).append(str(row["description"]))
    assert set(by) == {
        "#this",
        "#progenitor",
        "#calibration",
        "#auxiliary",
        "#documentation",
        "#cutout",
    }
    assert any(d.startswith("the raw frame: ") for d in by["#progenitor"])
    assert {d.split(":")[0] for d in by["#calibration"]} >= {
        "the tramline map",
        "the arc (wavelength solution)",
        "the fibre flat",
    }
    assert all(np.ma.is_masked(v) or str(v) == "" for v in links["error_message"])
    # products written before spectra were staged: `hectornb spectra publish` describes them
    from hectornb.db import engine as db

    with db.connect(settings) as conn:
        conn.execute("DELETE FROM spectrum WHERE job = %s", (final.id,))
    n, problems = index.add_written()
    assert problems == [] and n >= len(staged)
    again, _ = index.search("alice", maxrec=100_000)
    assert {r["obs_publisher_did"] for r in again} >= {r["obs_publisher_did"] for r in staged}


def test_a_single_frame_is_not_starved_by_another_users_whole_night(archive, settings):
    """One worker; alice's night (34 steps) is running when bob asks for one frame (7
    steps): bob's steps take the next free worker, so bob is done while most of alice's
    night is still to run."""
    from hectornb.db import engine
    from hectornb.reduce.access import set_programme
    from hectornb.reduce.runner import ReductionRunner
    from hectornb.reduce.service import submit
    from hectornb.reduce.store import ReductionStore

    one_worker = dataclasses.replace(settings, reduce_workers=1)
    store = ReductionStore(settings)
    set_programme(PROGRAMME, None, members=("bob",), settings=settings)
    try:
        night = submit(
            "alice",
            night_from="250829",
            night_to="250829",
            options={"CSIGREJ": "4"},
            settings=settings,
        )
        runner = ReductionRunner(one_worker, poll_seconds=0.2).start()
        try:
            deadline = time.monotonic() + 120
            while store.get(night.id, "alice").steps_done < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            single = submit(
                "bob", archive["objects"][:1], options={"CSIGREJ": "4.5"}, settings=settings
            )
            bob = _wait(store, single.id, "bob")
            alice = _wait(store, night.id, "alice")
        finally:
            runner.stop()
    finally:
        with engine.connect(settings) as conn:
            conn.execute("DELETE FROM programme_member WHERE username = 'bob'")
    failed = [
        (s["key"], s["reason"])
        for job, who in ((night, "alice"), (single, "bob"))
        for s in store.steps(job.id, who)
        if s["status"] != "done"
    ]
    assert bob.status == alice.status == "done", (alice.message, bob.message, failed)
    assert bob.steps_total == 7
    # from the moment bob's request is picked up, his steps go first: alice's night goes on
    # only in the gaps (his steps wait on each other), not all of its remainder before him
    # (the time to pick his request up is not the scheduler's, and varies with load)
    bob_started = next(e["at"] for e in store.events(single.id, "bob") if e["kind"] == "started")
    alice_steps = [e["at"] for e in store.events(night.id, "alice") if e["kind"] == "step"]
    remaining = sum(at > bob_started for at in alice_steps)
    meanwhile = sum(bob_started < at <= bob.finished for at in alice_steps)
    # one worker: while bob's next task waits for the result of his last, it runs one of
    # alice's (at most two per task of his: his steps and his products' PDFs); first come,
    # first served would run them all
    products = sum(
        s["task"] in ("reduce_object", "combine_image", "splice")
        for s in store.steps(single.id, "bob")
        if s["status"] == "done"
    )
    # plus what the worker already holds when his first task arrives: one of alice's running
    # and one queued (Dask's worker-saturation of 1.1 gives one thread two slots)
    bound = 2 * (bob.steps_total + products) + 2
    assert remaining > bound + 4, f"alice's night was nearly done ({remaining} steps left)"
    assert meanwhile <= bound, f"{meanwhile} of alice's {remaining} remaining steps ran first"
    assert bob.finished < alice.finished
    # the Dask dashboard, for the page: as the platform serves it, behind its sign-in
    assert alice.plan["dashboard"].endswith("hectornb/dask/status")


@pytest.mark.parametrize("dashboard", [False, True])
def test_the_local_cluster_answers_no_one_over_plain_http(settings, dashboard):
    """The cluster's scheduler and workers listen on loopback, where every local user can
    reach them: they speak only TLS with throw-away certificates, and their HTTP servers
    answer nothing of theirs (/info pages with logs and call stacks, /json, /metrics); with
    a dashboard (the platform's own server proxies it) only its plots."""
    import urllib.error
    import urllib.request

    from hectornb.reduce.run import dask_client

    with dask_client(1, settings, dashboard=dashboard) as client:
        info = client.scheduler_info()
        assert client.scheduler.address.startswith("tls://")
        ports = [client.cluster.scheduler.http_server.port]
        ports += [w["services"]["dashboard"] for w in info["workers"].values()]
        assert len(ports) == 2
        for port in ports:
            for path in (
                "/info/main/workers.html",
                "/info/main/logs.html",
                "/json/index.html",
                "/metrics",
                "/health",
            ):
                with pytest.raises(urllib.error.HTTPError) as answer:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
                assert answer.value.code == 404, (port, path)
        if dashboard:
            with urllib.request.urlopen(f"http://127.0.0.1:{ports[0]}/status", timeout=30) as r:
                assert r.status == 200 and b"bokeh" in r.read().lower()
