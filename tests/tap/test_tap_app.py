"""The TAP app's kernel side with another TAP service (this platform's, reached by URL through
pyvo, as any remote service would be): metadata, queries, jobs, and its refusals."""

from __future__ import annotations

import time

import pytest
from support.tap_fixtures import ROWS, fixed_catalogue

T = "remoteapp.stars"


@pytest.fixture(scope="module")
def app(platform):
    from hectornb.tap import ingest_table
    from hectornb.widgets import TapApp

    ingest_table(fixed_catalogue(), T)
    app = TapApp()
    app.connect(platform["base"] + "/hectornb/tap")
    return app


def test_a_service_by_url_shows_its_tables_capabilities_and_examples(app, platform):
    assert app.service == platform["base"] + "/hectornb/tap"
    tables = {t["name"]: t for s in app.schemas for t in s["tables"]}
    assert T in tables and "TAP_SCHEMA.columns" in tables
    assert "hectornb.targets" not in tables  # anonymous through pyvo: public tables only
    ra = next(c for c in tables[T]["columns"] if c["name"] == "ra")
    assert ra["unit"] == "deg" and ra["indexed"] and "indexed" in tables[T]["hint"]
    assert tables["TAP_SCHEMA.columns"]["keys"][0]["target"] == "TAP_SCHEMA.tables"
    assert app.capabilities["maxrec"] == 20000 and "2.1" in app.capabilities["adql"]
    assert any("TAP_SCHEMA.tables" in e["query"] for e in app.examples)


def test_sync_and_async_queries_through_pyvo(app):
    app.run(f"SELECT id, mag FROM {T} WHERE mag < 9 ORDER BY id")
    assert [r[0] for r in app.result["rows"]] == [12, 13, 15]
    # floats shown as their type carries them, not 17 digits; the table keeps every digit
    app.run(f"SELECT id, ra, 1.0/3 AS third FROM {T} WHERE id = 12")
    shown = app.result["rows"][0]
    assert shown[2] == "0.3333333333" and len(shown[1].replace(".", "")) <= 10
    assert app._table["third"][0] == 1.0 / 3
    job_id = app.run(f"SELECT id FROM {T} WHERE dec < -50 ORDER BY id", mode="async")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        phase = next(j["phase"] for j in app.client.jobs() if j["id"] == job_id)
        if phase in ("COMPLETED", "ERROR"):
            break
        time.sleep(0.2)
    assert phase == "COMPLETED"
    app.open_job(job_id)
    assert [r[0] for r in app.result["rows"]] == [6, 7, 14]
    app.client.delete(job_id)


def test_a_job_submitted_elsewhere_is_resumed_by_its_url(app, platform):
    import pyvo

    job = pyvo.dal.TAPService(platform["base"] + "/hectornb/tap").submit_job(
        f"SELECT id FROM {T} WHERE id > 13 ORDER BY id"
    )
    job.run()
    assert app.resume(job.url) == job.job_id
    job.wait(phases=["COMPLETED", "ERROR"])
    assert job.job_id in [j["id"] for j in app.client.jobs()]
    app.open_job(job.job_id)
    assert [r[0] for r in app.result["rows"]] == [14, 15]
    job.delete()


def test_refusals_are_messages(app):
    app._on_message(None, {"type": "run", "adql": "SELECT FROM nowhere"}, [])
    assert app.message["kind"] == "error" and "line 1" in app.message["text"]
    app.run(f"SELECT id, mag FROM {T}")
    with pytest.raises(ValueError, match="no positions"):
        app.to_target_list("nope")
    app._on_message(None, {"type": "upload", "name": "bad name", "filename": "x.csv"}, [b"a\n"])
    assert app.message["kind"] == "error" and "upload name" in app.message["text"]
    app._on_message(None, {"type": "connect", "url": "http://127.0.0.1:9/tap"}, [])
    assert app.message["kind"] == "error"
    assert app.service.endswith("/hectornb/tap")  # still connected to the service that works
    assert app.run(f"SELECT COUNT(*) AS n FROM {T}").table["n"][0] == len(ROWS)


def test_in_the_data_centre_service_the_app_reaches_no_inside_address(app, monkeypatch):
    """The service's own kernels run inside the data centre: a TAP URL typed into the app
    there must not make them a way to the database host or a metadata address."""
    monkeypatch.setenv("JUPYTERHUB_SERVICE_NAME", "hectornb")
    for url in ("http://127.0.0.1:5432/tap", "http://169.254.169.254/latest/", "http://10.0.0.5/"):
        app._on_message(None, {"type": "connect", "url": url}, [])
        assert app.message["kind"] == "error"
        assert "is not a public address" in app.message["text"], app.message
    monkeypatch.setenv("HECTORNB_TAP_UPLOAD_HOSTS", "127.0.0.1")  # what the centre allows
    base = app.service
    app.connect(base)
    assert app.service == base
