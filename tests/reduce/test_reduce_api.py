"""The Reduce service's REST API on a running ``hectornb serve``: archive query, submit,
follow, download, cancel; another user's jobs and proprietary frames refused."""

from __future__ import annotations

import datetime as dt
import getpass
import io
import time
import zipfile

import pytest
import requests

from hectornb.demo import index_simulated_night

PROGRAMME = "A/2025B/001"


def api(platform, method, path, **kw):
    headers = {"Authorization": f"token {platform['token']}", **kw.pop("headers", {})}
    return requests.request(
        method, platform["base"] + "/hectornb/api/reduce/" + path, headers=headers, timeout=60, **kw
    )


@pytest.fixture(scope="module")
def night(platform, tmp_path_factory):
    """A simulated night, indexed; the server's user is a member of its programme."""
    raw = tmp_path_factory.mktemp("api-night") / "raw"
    return index_simulated_night(
        raw, (getpass.getuser(),), date=dt.date(2025, 9, 3), seed=6, fields=1
    )


def test_the_archive_query_lists_the_users_frames(platform, night):
    r = api(platform, "GET", "frames", params={"night_from": "250903", "night_to": "250903"})
    assert r.status_code == 200, r.text
    files = {f["file"] for f in r.json()["frames"]}
    assert files == set(night["file"])
    query = {"night_from": "250903", "ndfclass": "MFOBJECT", "arm": "red"}
    objects = api(platform, "GET", "frames", params=query).json()
    assert {f["ndfclass"] for f in objects["frames"]} == {"MFOBJECT"}
    assert {f["arm"] for f in objects["frames"]} == {"red"}
    options = api(platform, "GET", "options").json()
    assert {"COSRAY_MTHD", "SKYSCRUNCH", "PCASKY", "TELCOR"} <= {
        o["name"] for o in options["options"]
    }


def log_line(platform, request_id: str) -> str:
    """The server's access-log line of a request (written just after its answer is sent)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [x for x in platform["log"].read_text().splitlines() if f"id={request_id}" in x]
        if lines or time.monotonic() > deadline:
            assert len(lines) == 1, lines
            return lines[0]
        time.sleep(0.05)


def test_submit_follow_and_download_over_http(platform, night):
    started = time.monotonic()
    r = api(
        platform,
        "POST",
        "jobs",
        json={"night_from": "250903", "night_to": "250903", "options": {"COSMIC": "NONE"}},
    )
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "queued" and job["n_frames"] == 6
    first_event = None
    while time.monotonic() - started < 180:
        events = api(platform, "GET", f"jobs/{job['id']}/events").json()["events"]
        if first_event is None and any(e["kind"] == "step" for e in events):
            first_event = time.monotonic() - started
        status = api(platform, "GET", f"jobs/{job['id']}").json()
        if status["status"] in ("done", "partial", "failed", "cancelled"):
            break
        time.sleep(0.3)
    assert status["status"] == "done", status["message"]
    assert first_event is not None
    assert status["steps_done"] == status["steps_total"] == len(status["steps"]) == 19
    assert status["options"]["COSRAY_MTHD"] == "NONE"
    listed = api(platform, "GET", "jobs").json()["jobs"]
    assert job["id"] in [j["id"] for j in listed]
    r = api(platform, "GET", f"jobs/{job['id']}/download", params={"what": "reduced"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = zf.namelist()
    assert sum(n.endswith("red.fits") for n in names) == 6
    assert "log.txt" in names and "plan.json" in names
    bad = api(platform, "GET", f"jobs/{job['id']}/download", params={"what": "everything"})
    assert bad.status_code == 422
    # The reduction loaded dask's distributed into the server, which sets tornado's loggers
    # to CRITICAL; the platform's access log still has every request, with its ID and user.
    me = requests.get(
        platform["base"] + "/hectornb/api/",
        timeout=10,
        headers={"Authorization": f"token {platform['token']}"},
    ).json()["user"]
    line = log_line(platform, bad.headers["X-Request-Id"])
    assert "422 GET" in line and f"user={me}" in line and "ms id=" in line
    by_url = requests.get(
        platform["base"] + f"/hectornb/api/?token={platform['token']}", timeout=10
    )
    line = log_line(platform, by_url.headers["X-Request-Id"])
    assert "token=[secret]" in line and platform["token"] not in line


def test_bad_requests_get_json_errors(platform, night):
    cases = [
        ({"frames": ["nowhere.fits"]}, "not in the archive index"),
        ({"night_from": "250903", "options": {"COSRAY_MTHD": "maybe"}}, "allowed values"),
        ({"night_from": "250903", "user": "someone-else"}, "unknown fields: user"),
        ({"frames": "27aug10012.fits"}, "frames must be a list"),
        ({}, "give frames, or a night range"),
    ]
    for body, message in cases:
        r = api(platform, "POST", "jobs", json=body)
        assert r.status_code == 422, (body, r.text)
        assert message in r.json()["error"], (body, r.json())
    r = api(platform, "POST", "jobs", data=b"not json")
    assert r.status_code == 422 and "JSON" in r.json()["error"]


def test_another_users_job_is_forbidden(platform, night):
    from hectornb.reduce.store import ReductionStore

    theirs = ReductionStore().create(
        "mallory", list(night["path"][:1]), "builtin", {}, None, "x" * 64, "/nonexistent/reduce/x"
    )
    try:
        for method, path in (
            ("GET", ""),
            ("GET", "/events"),
            ("POST", "/cancel"),
            ("GET", "/download"),
        ):
            r = api(platform, method, f"jobs/{theirs.id}{path}")
            assert r.status_code == 403, (path, r.status_code, r.text)
            assert "another user" in r.json()["error"]
        assert theirs.id not in [j["id"] for j in api(platform, "GET", "jobs").json()["jobs"]]
        assert api(platform, "GET", "jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    finally:
        ReductionStore().cancel(theirs.id, "mallory")


def test_proprietary_frames_are_neither_listed_nor_reduced(platform, night):
    from hectornb.reduce.access import set_programme

    set_programme("A/2099A/999", None, members=("mallory",))
    from hectornb.db import engine

    with engine.connect() as conn:  # one object frame now belongs to mallory's programme
        conn.execute(
            "UPDATE raw_frame SET aaoprgid = 'A/2099A/999' WHERE path = %s",
            (sorted(night.query("ndfclass == 'MFOBJECT'")["path"])[0],),
        )
    try:
        night_range = {"night_from": "250903", "night_to": "250903"}
        frames = api(platform, "GET", "frames", params=night_range).json()["frames"]
        assert len(frames) == len(night) - 1
        hidden = sorted(night.query("ndfclass == 'MFOBJECT'")["path"])[0]
        r = api(platform, "POST", "jobs", json={"frames": [hidden]})
        assert r.status_code == 403 and "not a member" in r.json()["error"]
        # a flat of that programme is listed (calibrations are chosen by the service), but
        # its fibre table and file are the programme's: they name its targets
        flat = sorted(night.query("ndfclass == 'MFFFF'")["path"])[0]
        with engine.connect() as conn:
            conn.execute("UPDATE raw_frame SET aaoprgid = 'A/2099A/999' WHERE path = %s", (flat,))
        frames = api(platform, "GET", "frames", params=night_range).json()["frames"]
        assert flat in [f["path"] for f in frames]
        r = api(platform, "GET", "frames/fibres", params={"path": flat})
        assert r.status_code == 403 and "not a member" in r.json()["error"]
        r = api(platform, "GET", "frames/download", params={"path": flat})
        assert r.status_code == 403
    finally:
        with engine.connect() as conn:
            conn.execute(
                "UPDATE raw_frame SET aaoprgid = %s WHERE starts_with(path, %s)",
                (PROGRAMME, str(night["path"][0]).rsplit("/", 3)[0]),
            )
