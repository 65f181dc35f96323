"""The ``2dfdr-docker`` engine against a real Docker daemon.

2dFdr itself cannot be had here (no registry to pull an image from, no release in any
package index), so its image is built locally: the project's own ``docker/2dfdr/Dockerfile``
FROM a base imported with no registry, holding a stand-in ``aaorun`` that behaves like
2dFdr at its interface (it reads the idx file and options, writes 2dfdr's products, prints
its completion line) and crashes, hangs, writes nothing or runs out of memory when its
arguments say so. Everything else is real: the daemon, the containers and their limits,
the Dask cluster, the runner and its PostgreSQL.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from support.docker_images import docker_client, standin_image
from support.harness import runner_process

from hectornb.config import Settings

BIN = Path(sys.executable).parent
NIGHT = "250714"  # a night no other test simulates: the archive is shared
REPOSITORY = "hectornb-2dfdr-standin"


@pytest.fixture(scope="module")
def docker():
    return docker_client()


@pytest.fixture(scope="module")
def images(docker):
    """Two versions of the stand-in 2dFdr, side by side, and a slow copy of A."""
    tags = {version: standin_image(docker, version) for version in ("A", "B")}
    slow = f"{REPOSITORY}:slow"
    dockerfile = f"FROM {tags['A']}\nENV STANDIN_SLEEP=5\n".encode()
    docker.images.build(fileobj=io.BytesIO(dockerfile), tag=slow, rm=True, network_mode="none")
    tags["slow"] = slow
    return tags


@pytest.fixture(scope="module")
def settings(database_url, tmp_path_factory, images) -> Settings:
    home = tmp_path_factory.mktemp("docker-paws")
    return dataclasses.replace(
        Settings.from_env(), home=home, reduce_workers=2, job_lease=3.0, tdfdr_image=images["A"]
    )


@pytest.fixture(autouse=True)
def environment(settings, monkeypatch):
    """What the Dask workers read: they start from this process's environment."""
    monkeypatch.setenv("HECTORNB_HOME", str(settings.home))
    monkeypatch.setenv("HECTORNB_2DFDR_IMAGE", settings.tdfdr_image)
    monkeypatch.setenv("HECTORNB_JOB_LEASE", "3")


@pytest.fixture(scope="module")
def archive(settings, tmp_path_factory):
    """A small simulated Hector night in the archive, its programme alice's."""
    from hectornb.demo import index_simulated_night

    raw = tmp_path_factory.mktemp("hector-archive") / "raw"
    frames = index_simulated_night(
        raw,
        ("alice",),
        settings,
        date=dt.date(2025, 7, 14),
        instrument="hector",
        seed=2,
        fields=1,
        exposures=2,
    )
    objects = sorted(frames.loc[frames["ndfclass"] == "MFOBJECT", "path"])
    return {"raw": raw, "frames": frames, "objects": objects}


def _ours(docker, settings, **labels):
    """This platform's containers: those a runner made (labelled with the database's
    identity too) and those made outside one."""
    from hectornb.reduce.containers import LABEL, platform_label
    from hectornb.reduce.store import ReductionStore

    found = {}
    identity = ReductionStore(settings).platform_identity()
    for platform in (platform_label(settings, identity), platform_label(settings)):
        wanted = [f"{LABEL}.platform={platform}"]
        wanted += [f"{LABEL}.{k}={v}" for k, v in labels.items()]
        for c in docker.containers.list(all=True, filters={"label": wanted}, ignore_removed=True):
            found[c.id] = c
    return list(found.values())


@contextlib.contextmanager
def _runner(settings, **changes):
    from hectornb.reduce.runner import ReductionRunner

    runner = ReductionRunner(dataclasses.replace(settings, **changes), poll_seconds=0.2).start()
    try:
        yield runner
    finally:
        runner.stop()


def _wait(settings, job_id: str, timeout: float = 240):
    from hectornb.reduce.store import ReductionStore

    store = ReductionStore(settings)
    deadline = time.monotonic() + timeout
    while not (job := store.get(job_id, "alice")).final:
        assert time.monotonic() < deadline, f"request still {job.status}"
        time.sleep(0.2)
    return job


def _run(settings, job_id: str):
    with _runner(settings):
        return _wait(settings, job_id)


def _submit(settings, frames=None, engine="2dfdr-docker", **options):
    from hectornb.reduce.service import submit

    night = {} if frames else {"night_from": NIGHT, "night_to": NIGHT}
    return submit(
        "alice", frames=frames, engine=engine, options=options, settings=settings, **night
    )


def _steps(settings, job_id: str) -> dict[str, dict]:
    from hectornb.reduce.store import ReductionStore

    return {s["key"]: s for s in ReductionStore(settings).steps(job_id, "alice")}


def _events(settings, job_id: str) -> list[dict]:
    from hectornb.reduce.store import ReductionStore

    return ReductionStore(settings).events(job_id, "alice")


def test_a_container_gets_the_least_it_needs(docker, images, settings, tmp_path):
    """Only its inputs, read-only; its work folder; no network, root or capabilities;
    the CPU and memory limits; and it is gone afterwards."""
    from hectornb.reduce import containers

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "27aug10012.fits").write_text("a frame")
    (raw / "27aug10013.fits").write_text("a frame it was not given")
    work = tmp_path / "work"
    work.mkdir()
    containers.give_to_container_user(settings, work)
    script = (
        "id -u; echo made > /work/product && echo work-writable;"
        " (echo x > /inputs/27aug10012.fits) 2>/dev/null || echo input-read-only;"
        " (touch /etc/x) 2>/dev/null || echo root-read-only;"
        " ls /inputs; ls /sys/class/net;"
        " cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null;"
        " cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null;"
        " grep CapEff /proc/self/status"
    )
    sandbox = containers.Sandbox(
        images["A"],
        ("sh", "-c", script),
        work,
        {"27aug10012.fits": str(raw / "27aug10012.fits")},
        labels={"step": "look-around"},
    )
    changed = dataclasses.replace(settings, container_cpus=0.5, container_memory="256m")
    outcome = containers.run(sandbox, timeout=30, settings=changed)
    lines = outcome.output.split()
    assert outcome.exit_code == 0, outcome.output
    assert lines[0] == "65534"  # the service runs as root here: the container does not
    assert (work / "product").read_text() == "made\n"
    assert {"work-writable", "input-read-only", "root-read-only"} <= set(lines)
    assert "27aug10013.fits" not in lines and "27aug10012.fits" in lines
    assert "lo" in lines and "eth0" not in lines
    assert str(256 * 2**20) in lines or str(256 * 2**20) in outcome.output
    assert "50000" in outcome.output  # half of each 100 ms CPU period
    assert "CapEff:\t0000000000000000" in outcome.output
    assert _ours(docker, settings, step="look-around") == []


def test_a_command_flooding_its_output_leaves_the_end_of_it(images, settings, tmp_path):
    """Gigabytes printed by a runaway command never reach the request's log or memory."""
    from hectornb.reduce import containers

    containers.give_to_container_user(settings, tmp_path)
    flood = "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 5000000; echo THE-END"
    sandbox = containers.Sandbox(images["A"], ("sh", "-c", flood), tmp_path, {})
    outcome = containers.run(sandbox, timeout=60, settings=settings)
    assert outcome.exit_code == 0
    assert outcome.output.rstrip().endswith("THE-END")
    assert len(outcome.output) <= 2 * 2**20


def test_a_command_filling_the_disk_is_killed_at_its_limit(images, settings, tmp_path):
    """The work folder is on the data disk: a runaway writer is stopped there."""
    from hectornb.reduce import containers

    containers.give_to_container_user(settings, tmp_path)
    fill = "while true; do head -c 1048576 /dev/zero >> /work/big; sleep 0.01; done"
    sandbox = containers.Sandbox(images["A"], ("sh", "-c", fill), tmp_path, {})
    limited = dataclasses.replace(settings, container_disk=20 * 2**20)
    outcome = containers.run(sandbox, timeout=60, settings=limited)
    assert outcome.killed == "disk" and outcome.exit_code is None
    assert outcome.seconds < 10


def test_a_night_reduced_in_containers_and_two_versions_compared(docker, images, settings, archive):
    """Every step in its own container of the stand-in 2dFdr, products in 2dfdr's layout
    with the command lines and 2dFdr's output in the request's log; then the same frames
    with version B, and ``hectornb reduce compare`` shows what changed."""
    from hectornb.spectra.io import read_2dfdr

    a = _run(settings, _submit(settings, engine="2dfdr-docker@A").id)
    assert a.status == "done", a.message
    steps = _steps(settings, a.id)
    assert len(steps) >= 15 and {s["status"] for s in steps.values()} == {"done"}
    for step in steps.values():
        assert "$ aaorun " + step["task"].replace("combine_bias", "reduce_bias").replace(
            "combine_dark", "reduce_dark"
        ) in step["log"] or step["task"] in ("combine_image", "splice")
        assert f"(container of {images['A']}, attempt 1: exit 0" in step["log"]
        assert 'Action "EXIT", Task' in step["log"]
    objects = [s for s in steps.values() if s["task"] == "reduce_object"]
    assert len(objects) == len(archive["objects"])
    product = Path(objects[0]["output"])
    frame = read_2dfdr(product)
    assert frame.flux.ndim == 2 and np.isfinite(frame.flux).mean() > 0.9
    raw = next(p for p in archive["objects"] if Path(p).stem in product.name)
    assert list(frame.fibres["NAME"]) == list(read_2dfdr_fibres(raw))
    assert frame.header["DRVERSIO"].strip() == "A"
    assert _ours(docker, settings) == []
    assert not list(Path(a.outdir).rglob(".2dfdr-*"))

    # version B on that one frame (and the calibrations it needs)
    b = _run(settings, _submit(settings, [raw], engine="2dfdr-docker@B").id)
    assert b.status == "done", b.message
    other = Path(b.outdir) / product.relative_to(a.outdir)
    proc = subprocess.run(
        [str(BIN / "hectornb"), "reduce", "compare", str(product), str(other)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "flux ratio B/A: median 1.02" in proc.stdout, proc.stdout
    assert "wavelength shift B-A" in proc.stdout


def test_an_image_not_on_the_engine_is_refused_when_submitted(images, settings, archive):
    """The Reduce form offers the tags the Docker engine holds; a tag nobody built here, or
    no Docker engine at all, is said at once, with the tags there are, rather than by a
    failed first step; nothing is queued."""
    from hectornb.errors import Invalid
    from hectornb.reduce.engines import engines_here, engines_not_here
    from hectornb.reduce.store import ReductionStore

    offered = engines_here(settings)
    assert "2dfdr-docker" not in engines_not_here(settings)
    assert offered[0] == "builtin"
    assert [e for e in offered if e.startswith("2dfdr-docker")] == [
        "2dfdr-docker@A",
        "2dfdr-docker@B",
        "2dfdr-docker@slow",
    ]
    listed = subprocess.run(
        [str(BIN / "hectornb"), "reduce", "engines"], capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0 and listed.stdout.split() == offered, listed.stderr
    store = ReductionStore(settings)
    before = {j.id for j in store.list("alice")}
    with pytest.raises(Invalid) as refused:
        _submit(settings, archive["objects"][:1], engine="2dfdr-docker@A2")
    said = str(refused.value)
    assert f"the image {REPOSITORY}:A2 is not on this platform's Docker engine" in said
    assert "its tags here: A, B, slow" in said and "Building the 2dFdr image" in said
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        with pytest.raises(Invalid, match="no Docker engine answers at unix:///nonexistent"):
            _submit(settings, archive["objects"][:1], engine="2dfdr-docker@A")
        assert not any(e.startswith("2dfdr-docker") for e in engines_here(settings))
        # and the list says why it is missing, rather than leaving it out in silence
        why = engines_not_here(settings)["2dfdr-docker"]
        assert why.startswith("no Docker engine answers at unix:///nonexistent"), why
        listed = subprocess.run(
            [str(BIN / "hectornb"), "reduce", "engines"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0 and "2dfdr-docker" not in listed.stdout
        assert "(2dfdr-docker: not here: no Docker engine answers at unix:///nonexistent" in (
            listed.stderr
        )
    assert {j.id for j in store.list("alice")} == before
    # the tag that is there is taken (and withdrawn: the next test's runner would run it)
    taken = _submit(settings, archive["objects"][:1], engine="2dfdr-docker@B")
    assert taken.status == "queued"
    assert store.cancel(taken.id, "alice").status == "cancelled"


def read_2dfdr_fibres(raw: str) -> list[str]:
    from astropy.io import fits

    with fits.open(raw) as hdul:
        return [str(n).strip() for n in hdul["FIBRES"].data["NAME"]]


def test_a_crashed_step_is_retried_in_a_new_container(docker, settings, archive):
    since = int(time.time())
    job = _submit(
        settings,
        [archive["objects"][0]],
        STANDIN_FAULT="crash",
        STANDIN_FAULT_TASK="reduce_object",
        STANDIN_FAULT_ATTEMPTS=1,
    )
    final = _run(settings, job.id)
    assert final.status == "done", final.message
    retries = [e["message"] for e in _events(settings, job.id) if e["kind"] == "retry"]
    assert len(retries) == 1, retries
    assert retries[0].startswith("reduce_object ") and "crashed (exit 139, SIGSEGV)" in retries[0]
    assert "attempt 2 in a new container" in retries[0]
    obj = next(s for s in _steps(settings, job.id).values() if s["task"] == "reduce_object")
    assert "attempt 2: exit 0" in obj["log"]
    died = [
        e
        for e in docker.events(
            since=since, until=int(time.time()) + 1, decode=True, filters={"event": "die"}
        )
        if e["Actor"]["Attributes"].get("org.hectornb.request") == job.id
        and e["Actor"]["Attributes"].get("org.hectornb.step") == obj["key"]
    ]
    codes = {e["Actor"]["Attributes"]["org.hectornb.attempt"]: e for e in died}
    assert codes["1"]["Actor"]["Attributes"]["exitCode"] == "139"
    assert codes["2"]["Actor"]["Attributes"]["exitCode"] == "0"
    assert codes["1"]["id"] != codes["2"]["id"]
    assert _ours(docker, settings) == []


def test_a_hanging_step_is_killed_at_its_limit_and_the_request_fails_precisely(
    docker, settings, archive, monkeypatch
):
    monkeypatch.setenv("HECTORNB_STEP_TIMEOUT", "4")
    job = _submit(
        settings, [archive["objects"][1]], STANDIN_FAULT="hang", STANDIN_FAULT_TASK="reduce_object"
    )
    start = time.monotonic()
    final = _run(settings, job.id)
    assert final.status == "failed"
    assert time.monotonic() - start < 60  # one kill at 4 s, no retries of a hang
    obj = next(s for s in _steps(settings, job.id).values() if s["task"] == "reduce_object")
    assert obj["status"] == "failed"
    assert obj["reason"].startswith(f"reduce_object {obj['frame']} ({obj['arm']} arm")
    assert "ran over 4 s (HECTORNB_STEP_TIMEOUT) and its container was killed" in obj["reason"]
    assert "reduce_object" in final.message and "ran over 4 s" in final.message
    assert not [e for e in _events(settings, job.id) if e["kind"] == "retry"]
    assert _ours(docker, settings) == []


def test_a_step_that_writes_nothing_fails_with_its_name_and_the_last_output(
    docker, settings, archive
):
    job = _submit(
        settings,
        [archive["objects"][2]],
        STANDIN_FAULT="nothing",
        STANDIN_FAULT_TASK="reduce_object",
    )
    final = _run(settings, job.id)
    assert final.status == "failed"
    obj = next(s for s in _steps(settings, job.id).values() if s["task"] == "reduce_object")
    assert obj["status"] == "failed"
    assert obj["reason"].startswith(f"reduce_object {obj['frame']} ({obj['arm']} arm")
    assert "did not complete" in obj["reason"]
    assert "its last output:" in obj["reason"] and "Nothing more to do." in obj["reason"]
    assert _ours(docker, settings) == []


def test_a_step_over_its_memory_is_killed_and_says_so(docker, settings, archive, monkeypatch):
    """The steps before it run within the same limit: the limit kills the runaway only."""
    from hectornb.reduce.run import execute_step, plan_steps

    monkeypatch.setenv("HECTORNB_CONTAINER_MEMORY", "300m")
    frame = archive["objects"][0]
    frames = archive["frames"]
    plan = plan_steps(frames, settings.home / "memory", {})
    target = next(s for s in plan.steps if s.task == "reduce_object" and s.frame in frame)
    needed, queue = {}, [target]
    while queue:
        step = queue.pop()
        needed[step.key] = step
        queue += [s for s in plan.steps if s.key in step.needs]
    for step in [s for s in plan.steps if s.key in needed and s is not target]:
        result = execute_step(step, "2dfdr-docker@A", {})
        assert "failed" not in result, result
    result = execute_step(target, "2dfdr-docker@A", {"STANDIN_FAULT": "memory"})
    assert result["failed"].startswith(target.describe())
    assert "used more than its 300m of memory" in result["failed"]
    assert _ours(docker, settings) == []


def test_the_server_killed_mid_step_leaves_no_container_and_the_request_resumes(
    docker, images, settings, archive
):
    """The runner (a server's) is killed while a container runs; the container outlives it.
    The next runner removes it by its labels and resumes the request."""
    job = _submit(settings, [archive["objects"][3]])
    env = {
        **os.environ,
        "HECTORNB_REDUCE_WORKERS": "1",
        "HECTORNB_2DFDR_IMAGE": images["slow"],  # a container lives long enough to be seen
    }
    with runner_process(env):
        deadline = time.monotonic() + 120
        while not [c for c in _ours(docker, settings, request=job.id) if c.status == "running"]:
            assert time.monotonic() < deadline, "no container started"
            time.sleep(0.1)
    time.sleep(0.5)
    survivors = _ours(docker, settings, request=job.id)
    assert [c.status for c in survivors] == ["running"]  # it outlived its server
    final = _run(settings, job.id)
    assert final.status == "done", final.message
    assert final.attempts == 2
    kinds = [e["kind"] for e in _events(settings, job.id)]
    assert "resumed" in kinds and "container" in kinds
    assert _ours(docker, settings) == []


def test_cancelling_a_request_stops_its_containers_and_starts_no_more(
    docker, images, settings, archive, monkeypatch
):
    """Steps queued on a worker behind its one container slot must not start after the
    cancel, and the one running is removed."""
    from hectornb.reduce.store import ReductionStore

    monkeypatch.setenv("HECTORNB_2DFDR_IMAGE", images["slow"])
    monkeypatch.setenv("HECTORNB_CONTAINERS_PER_WORKER", "1")
    job = _submit(settings, [archive["objects"][2]], SKYFITORDER=2)
    with _runner(settings, reduce_threads=3, containers_per_worker=1):
        deadline = time.monotonic() + 120
        while not [c for c in _ours(docker, settings, request=job.id) if c.status == "running"]:
            assert time.monotonic() < deadline, "no container started"
            time.sleep(0.1)
        ReductionStore(settings).cancel(job.id, "alice")
        cancelled = time.time()
        final = _wait(settings, job.id)
        time.sleep(3)  # a step queued for the slot would have started by now
        left = _ours(docker, settings, request=job.id)
    assert final.status == "cancelled"
    started = [
        e
        for e in docker.events(
            since=int(cancelled) + 1,
            until=int(time.time()) + 1,
            decode=True,
            filters={"event": "start", "label": f"org.hectornb.request={job.id}"},
        )
    ]
    assert started == [] and left == []


def test_four_requests_never_run_more_containers_than_each_worker_may(
    docker, images, settings, archive, monkeypatch
):
    """Workers with three threads each, one container per worker at a time."""
    monkeypatch.setenv("HECTORNB_CONTAINERS_PER_WORKER", "1")
    jobs = [_submit(settings, [frame], engine="2dfdr-docker") for frame in archive["objects"][:4]]
    most: collections.Counter[str] = collections.Counter()
    total = 0
    done = threading.Event()

    def watch():
        nonlocal total
        while not done.is_set():
            running = [c for c in _ours(docker, settings) if c.status == "running"]
            per_worker = collections.Counter(c.labels.get("org.hectornb.worker") for c in running)
            for worker, n in per_worker.items():
                most[worker] = max(most[worker], n)
            total = max(total, len(running))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with _runner(settings, reduce_threads=3, containers_per_worker=1):
            finals = [_wait(settings, job.id) for job in jobs]
    finally:
        done.set()
        watcher.join()
    assert [f.status for f in finals] == ["done"] * 4, [f.message for f in finals]
    assert max(most.values()) == 1, most
    assert total == 2 and len(most) == 2  # both workers did run containers at once
