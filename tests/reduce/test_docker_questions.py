"""Asking the Docker engine which 2dFdr images it holds, when it cannot answer properly.

A real socket stands in for a Docker engine that accepts a connection, starts its reply
and never finishes it (one byte a second): the worst a hung or overloaded engine does. A
request must still be answered within the question's deadline, many requests must share
one question, and no other call of the platform may wait behind them.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import socket
import subprocess
import threading
import time
import uuid

import pytest
import requests
from conftest import _free_port


@pytest.fixture
def trickling_engine(tmp_path):
    """``unix://…``: a Docker engine whose every reply starts and never ends."""
    path = tmp_path / "docker.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    stop = threading.Event()

    def trickle(conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not stop.wait(1.0):
                    conn.sendall(b"{")
            except OSError:
                pass

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield f"unix://{path}"
    stop.set()
    server.join()
    listener.close()
    # the questions it held end with it (their slots are the process's)
    deadline = time.monotonic() + 15
    while _questions_in_flight() and time.monotonic() < deadline:
        time.sleep(0.1)


def _questions_in_flight() -> int:
    return sum(t.name == "hectornb-docker-question" for t in threading.enumerate())


def test_a_docker_engine_that_never_finishes_answering_holds_no_one_up(
    trickling_engine, monkeypatch
):
    from hectornb.reduce import images

    monkeypatch.setenv("DOCKER_HOST", trickling_engine)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        said = list(pool.map(lambda n: images.image_problem(f"2dfdr:t{n % 3}"), range(12)))
        tags = images.image_tags("2dfdr:latest")
    waited = time.monotonic() - started
    # each question waits its deadline at most, and the twelve of them wait together
    assert waited < 2 * images.DEADLINE_S, waited
    assert all(
        s.startswith(f"no Docker engine answers at {trickling_engine}")
        or ("is still answering others" in s)
        for s in said
    ), said
    assert any("within 5 s" in s for s in said) and tags == []
    # three different questions, at most CONCURRENT of them asked of the engine
    assert _questions_in_flight() <= images.CONCURRENT


@pytest.mark.parametrize("where", ["tcp://127.0.0.1:99999", "tcp://[zz", "ssh://"])
def test_a_misconfigured_docker_host_is_said_not_raised(where, monkeypatch):
    from hectornb.reduce import images

    monkeypatch.setenv("DOCKER_HOST", where)
    said = images.image_problem(f"2dfdr:{uuid.uuid4().hex[:8]}")
    assert said.startswith(f"no Docker engine answers at {where}"), said
    assert images.image_tags(f"2dfdr-{uuid.uuid4().hex[:8]}:latest") == []


def test_image_names_are_read_as_the_docker_engine_names_its_tags():
    from hectornb.config import Settings
    from hectornb.reduce.images import repository_of
    from hectornb.reduce.tdfdr import engine_image

    assert repository_of("docker.io/library/2dfdr:8.03") == "2dfdr"
    assert repository_of("docker.io/aao/2dfdr:8.03") == "aao/2dfdr"
    assert repository_of("localhost:5000/aao/2dfdr:8.03") == "localhost:5000/aao/2dfdr"
    digest = "sha256:" + "0" * 64
    assert repository_of(f"2dfdr:8.03@{digest}") == "2dfdr"
    assert repository_of(f"localhost:5000/2dfdr@{digest}") == "localhost:5000/2dfdr"
    settings = dataclasses.replace(Settings.from_env(), tdfdr_image=f"2dfdr:8.03@{digest}")
    assert engine_image("7.3", settings) == "2dfdr:7.3"
    assert engine_image("", settings) == f"2dfdr:8.03@{digest}"


def test_the_platform_answers_everyone_else_while_its_docker_engine_hangs(
    trickling_engine, database_url, tmp_path
):
    """``hectornb serve`` with a Docker engine that never finishes a reply: twenty asks
    for the engines and a few 2dfdr-docker requests wait for it, and meanwhile another
    user's list of requests answers at once; the requests are refused saying why, and the
    server still stops when told to."""
    from support.harness import serve_platform

    token = "hang-" + uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DOCKER_HOST": trickling_engine,
        "HECTORNB_HOME": str(tmp_path / "home"),
        "JUPYTER_TOKEN": token,
        "HECTORNB_POOL_SIZE": "0",
        "HECTORNB_RUNNER": "external",
    }
    proc, base = serve_platform(env, _free_port(), tmp_path / "serve.log", apps=())
    api = f"{base}/hectornb/api/reduce"
    auth = {"Authorization": f"token {token}"}
    try:
        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            engines = [
                pool.submit(requests.get, f"{api}/engines", headers=auth, timeout=60)
                for _ in range(20)
            ]
            asked = [
                pool.submit(
                    requests.post,
                    f"{api}/jobs",
                    json={"frames": ["x.fits"], "engine": f"2dfdr-docker@v{n}"},
                    headers=auth,
                    timeout=60,
                )
                for n in range(4)
            ]
            time.sleep(0.5)  # they are all waiting on the engine now
            started = time.monotonic()
            listed = requests.get(f"{api}/jobs", headers=auth, timeout=60)
            meanwhile = time.monotonic() - started
            answers = [f.result() for f in engines]
            refusals = [f.result() for f in asked]
        assert listed.status_code == 200 and meanwhile < 2.5, meanwhile
        assert all(r.status_code == 200 and r.json()["engines"] == ["builtin"] for r in answers)
        for r in refusals:
            assert r.status_code == 422, r.text
            assert "no Docker engine answers" in r.json()["error"] or (
                "still answering others" in r.json()["error"]
            )
    finally:
        proc.terminate()
        try:
            stopped = proc.wait(30) is not None
        except subprocess.TimeoutExpired:
            proc.kill()
            stopped = False
    assert stopped, "the server did not stop while its Docker engine hung"
