"""Asynchronous TAP jobs in the real database, run by the running platform's job runner: a
job whose server died while it ran is run again (jobs survive a restart), each user's
running-job limit, and destruction of expired jobs with their results."""

from __future__ import annotations

import io
import os
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
from astropy.io.votable import parse_single_table
from support.tap_fixtures import ROWS, fixed_catalogue

T = "jobtest.stars"


@pytest.fixture(scope="module")
def store(platform):
    from hectornb.tap import TapService, ingest_table
    from hectornb.tap.uws import UwsJobStore

    ingest_table(fixed_catalogue(), T)
    return UwsJobStore(TapService())


def user() -> str:
    return f"astro-{uuid.uuid4().hex[:6]}"


def wait_for(store, job_id: str, owner: str, phases: tuple[str, ...], seconds: float = 60):
    deadline = time.monotonic() + seconds
    job = store.get(job_id, owner)
    while job.phase not in phases and time.monotonic() < deadline:
        time.sleep(0.1)
        job = store.get(job_id, owner)
    return job


def test_a_job_left_executing_by_a_dead_server_is_run_again(store):
    from hectornb.db import connect

    alice = user()
    job = store.create(alice, {"LANG": "ADQL", "QUERY": f"SELECT id FROM {T} WHERE mag < 9"})
    with connect() as conn:  # a server claimed it, then died: its heartbeat stopped
        conn.execute(
            "UPDATE tap_jobs SET phase = 'EXECUTING', runner = 'gone', start_time = "
            "now() - interval '5 min', heartbeat = now() - interval '5 min' "
            "WHERE job_id = %s",
            (job.job_id,),
        )
    done = wait_for(store, job.job_id, alice, ("COMPLETED", "ERROR"))
    assert done.phase == "COMPLETED", done.error
    assert done.start_time > job.creation_time  # it was started again, by a live runner
    with open(done.result_path, "rb") as f:
        table = parse_single_table(io.BytesIO(f.read())).to_table()
    assert sorted(int(i) for i in table["id"]) == [i for i in ROWS if (ROWS[i][2] or 99) < 9]
    store.delete(job.job_id, alice)


def test_each_user_runs_at_most_their_limit_at_once(platform):
    from hectornb.config import get_settings
    from hectornb.tokens import create as create_token

    limit = get_settings().tap_max_running  # the server's (2 by default)
    tap = platform["base"] + "/hectornb/tap"
    s = requests.Session()
    s.headers["Authorization"] = f"token {create_token(user(), 'job limit test')['token']}"
    slow = "SELECT COUNT(*) FROM " + ", ".join(f"{T} AS t{k}" for k in range(9))
    urls = [
        s.post(tap + "/async", data={"LANG": "ADQL", "QUERY": slow, "PHASE": "RUN"}, timeout=30).url
        for _ in range(limit + 1)
    ]
    try:
        seen: list[list[str]] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            phases = [s.get(u + "/phase", timeout=10).text for u in urls]
            seen.append(phases)
            if phases.count("EXECUTING") == limit and len(seen) > 20:
                break
            time.sleep(0.1)
        assert max(p.count("EXECUTING") for p in seen) == limit
        assert seen[-1].count("QUEUED") == 1  # the one over the limit waits its turn
    finally:
        for u in urls:
            s.post(u, data={"PHASE": "ABORT"}, timeout=30)
    phases = [ET.fromstring(s.get(u, timeout=10).content).find("{*}phase").text for u in urls]
    assert phases == ["ABORTED"] * len(urls)  # ABORT stopped the running queries too
    for u in urls:
        s.delete(u, timeout=10)


def test_jobs_past_their_destruction_are_deleted_with_their_results(store):
    from hectornb.db import connect

    alice = user()
    job = store.create(alice, {"LANG": "ADQL", "QUERY": f"SELECT TOP 1 id FROM {T}"})
    store.run(job.job_id, alice)
    done = wait_for(store, job.job_id, alice, ("COMPLETED", "ERROR"))
    assert done.phase == "COMPLETED", done.error
    with open(done.result_path, "rb") as f:
        assert f.read().startswith(b"<?xml")
    with connect() as conn:
        conn.execute(
            "UPDATE tap_jobs SET destruction = now() - interval '1 s' WHERE job_id = %s",
            (job.job_id,),
        )
    assert store.expire() >= 1
    with pytest.raises(LookupError):
        store.get(job.job_id, alice)
    assert not os.path.exists(done.result_path)


def test_a_job_aborted_between_its_claim_and_its_start_never_runs(store):
    """A runner claims a job, then its owner aborts it before the runner's thread starts the
    query: the query must not start (it would run unseen, uncancellable, for up to an hour)."""
    from hectornb.db import connect

    alice = user()
    job = store.create(alice, {"LANG": "ADQL", "QUERY": f"SELECT id FROM {T}"})
    with connect() as conn:  # claimed by a runner that has not started it yet
        conn.execute(
            "UPDATE tap_jobs SET phase = 'EXECUTING', runner = 'this', heartbeat = "
            "now(), start_time = now() WHERE job_id = %s",
            (job.job_id,),
        )
    store.abort(job.job_id, alice)
    store.execute(store.get(job.job_id, alice))
    after = store.get(job.job_id, alice)
    assert after.phase == "ABORTED" and after.result_path is None
    with connect() as conn:
        assert (
            conn.execute(
                "SELECT backend_pid FROM tap_jobs WHERE job_id = %s", (job.job_id,)
            ).fetchone()["backend_pid"]
            is None
        )
    store.delete(job.job_id, alice)


def test_a_runner_renews_only_the_leases_of_jobs_it_is_running(store):
    """A job whose thread died (the database went away under it) must lapse and be run
    again, not be kept alive by its runner's heartbeat for ever."""
    from hectornb.db import connect

    alice = user()
    job = store.create(alice, {"LANG": "ADQL", "QUERY": f"SELECT id FROM {T}"})
    with connect() as conn:
        conn.execute(
            "UPDATE tap_jobs SET phase = 'EXECUTING', runner = 'r1', heartbeat = "
            "now() - interval '1 hour' WHERE job_id = %s",
            (job.job_id,),
        )

    def heartbeat_age() -> float:
        with connect() as conn:
            return conn.execute(
                "SELECT extract(epoch FROM now() - heartbeat) AS s FROM tap_jobs WHERE job_id = %s",
                (job.job_id,),
            ).fetchone()["s"]

    store.beat("r1", [])  # r1 is alive but not running it any more
    assert heartbeat_age() > 3000
    store.beat("r1", [job.job_id])
    assert heartbeat_age() < 60
    with connect() as conn:
        conn.execute(
            "UPDATE tap_jobs SET heartbeat = now() - interval '1 hour' WHERE job_id = %s",
            (job.job_id,),
        )
    done = wait_for(store, job.job_id, alice, ("COMPLETED", "ERROR"))  # the live runner's
    assert done.phase == "COMPLETED", done.error
    store.delete(job.job_id, alice)
