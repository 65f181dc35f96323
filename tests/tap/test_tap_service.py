"""The TAP service with pyvo as the client, over real HTTP and the real database: sync,
async (run, wait, fetch, delete), uploads (inline and by URL) joined and cross-matched,
MAXREC and overflow, the output formats, VOSI documents, DALI errors, who sees what."""

from __future__ import annotations

import datetime as dt
import io
import time
import uuid
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import pyvo
import requests
from astropy.io import fits
from astropy.io.votable import parse as parse_votable
from astropy.io.votable import parse_single_table
from astropy.table import Table
from support.tap_fixtures import ROWS, fixed_catalogue

T = "servicetest.stars"


@pytest.fixture(scope="module")
def tap_url(platform):
    from hectornb.tap import ingest_table

    ingest_table(fixed_catalogue(), T, description="TAP service test catalogue")
    return platform["base"] + "/hectornb/tap"


@pytest.fixture(scope="module")
def tap(tap_url):
    return pyvo.dal.TAPService(tap_url)


def signed_in(platform, token: str | None = None) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"token {token or platform['token']}"
    return s


def test_sync_query_returns_the_rows_with_their_metadata(tap):
    result = tap.run_sync(f"SELECT id, ra, dec, mag, name FROM {T} WHERE id <= 3 ORDER BY id")
    t = result.to_table()
    assert list(t["id"]) == [1, 2, 3]
    assert list(t["ra"]) == [ROWS[i][0] for i in (1, 2, 3)]
    assert str(t["ra"].unit) == "deg" and str(t["mag"].unit) == "mag"
    fields = {f.name: f for f in result.fieldnames and result.resultstable.fields}
    assert fields["ra"].ucd == "pos.eq.ra;meta.main"
    assert fields["mag"].description == "V magnitude"


def test_maxrec_overflow_and_top(tap, tap_url):
    r = tap.run_sync(f"SELECT id FROM {T}", maxrec=4)
    assert len(r) == 4 and r.query_status == "OVERFLOW"
    r = tap.run_sync(f"SELECT TOP 3 id FROM {T}", maxrec=5)  # TOP below MAXREC: no overflow
    assert len(r) == 3 and r.query_status == "OK"
    r = tap.run_sync(f"SELECT TOP 9 id FROM {T}", maxrec=5)  # MAXREC below TOP: overflow
    assert len(r) == 5 and r.query_status == "OVERFLOW"
    # metadata only (pyvo does not send MAXREC=0)
    r = requests.get(
        tap_url + "/sync",
        params={"LANG": "ADQL", "MAXREC": "0", "QUERY": f"SELECT id, name FROM {T}"},
        timeout=30,
    )
    resource = parse_votable(io.BytesIO(r.content)).resources[0]
    assert [i.value for i in resource.infos if i.name == "QUERY_STATUS"] == ["OVERFLOW"]
    t = resource.tables[0].to_table()
    assert len(t) == 0 and t.colnames == ["id", "name"]
    r = tap.run_sync(f"SELECT id FROM {T}")
    assert len(r) == len(ROWS) and r.query_status == "OK"


def test_errors_are_dali_documents(tap_url):
    r = requests.post(
        tap_url + "/sync", data={"LANG": "ADQL", "QUERY": "SELECT nope FROM"}, timeout=30
    )
    assert r.status_code == 400
    root = ET.fromstring(r.content)
    info = root.find(".//{*}INFO[@name='QUERY_STATUS']")
    assert info.get("value") == "ERROR" and "ends too early" in info.text
    r = requests.get(tap_url + "/sync", params={"QUERY": f"SELECT id FROM {T}"}, timeout=30)
    assert r.status_code == 400 and b"LANG" in r.content
    r = requests.get(tap_url + "/sync", params={"LANG": "PQL", "QUERY": "x"}, timeout=30)
    assert r.status_code == 400 and b"PQL" in r.content
    r = requests.get(
        tap_url + "/sync",
        params={"LANG": "ADQL", "QUERY": f"SELECT id FROM {T}", "RESPONSEFORMAT": "yaml"},
        timeout=30,
    )
    assert r.status_code == 400 and b"yaml" in r.content


def test_parameter_names_are_case_insensitive_and_request_doquery_is_accepted(tap_url):
    params = {
        "lang": "adql",
        "Query": f"SELECT id FROM {T}",
        "request": "doQuery",
        "MaxRec": "2",
        "unknown": "ignored",
    }
    r = requests.get(tap_url + "/sync", params=params, timeout=30)
    assert r.status_code == 200
    assert len(parse_single_table(io.BytesIO(r.content)).to_table()) == 2


@pytest.mark.parametrize("fmt", ["votable", "votable/b2", "csv", "tsv", "fits"])
def test_every_output_format_round_trips(tap_url, fmt):
    query = f"SELECT id, ra, mag, name FROM {T} ORDER BY id"
    r = requests.get(
        tap_url + "/sync",
        params={"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": fmt},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    if fmt.startswith("votable"):
        assert r.headers["Content-Type"].startswith("application/x-votable+xml")
        if fmt == "votable/b2":
            assert b"<BINARY2>" in r.content
        t = parse_single_table(io.BytesIO(r.content)).to_table()
    elif fmt == "csv":
        assert r.headers["Content-Type"] == "text/csv;header=present"
        t = Table.read(r.text, format="ascii.csv")
    elif fmt == "tsv":
        t = Table.read(r.text, format="ascii.tab")
    else:
        t = Table(fits.open(io.BytesIO(r.content))[1].data)
    ids = sorted(ROWS)
    assert [int(v) for v in t["id"]] == ids
    assert [float(v) for v in t["ra"]] == [ROWS[i][0] for i in ids]
    assert [str(v) for v in t["name"]] == [ROWS[i][3] for i in ids]
    mag = np.ma.filled(np.ma.asarray(t["mag"], dtype=float), np.nan)
    assert np.isnan(mag[ids.index(11)])  # the NULL magnitude stays empty
    assert mag[ids.index(12)] == pytest.approx(5.5)


def test_async_run_wait_fetch_delete(tap, tap_url):
    job = tap.submit_job(f"SELECT id, name FROM {T} WHERE mag < 9 ORDER BY id")
    assert job.phase == "PENDING"
    job.run()
    job.wait(phases=["COMPLETED", "ERROR", "ABORTED"])
    assert job.phase == "COMPLETED"
    assert [int(i) for i in job.fetch_result().to_table()["id"]] == [12, 13, 15]
    url = job.url
    assert requests.get(url + "/phase", timeout=10).text == "COMPLETED"
    destruction = requests.get(url + "/destruction", timeout=10).text
    assert dt.datetime.fromisoformat(destruction.replace("Z", "+00:00")) > dt.datetime.now(dt.UTC)
    job.delete()
    assert requests.get(url, timeout=10).status_code == 404


def test_async_blocking_wait_and_job_list_filters(tap_url, platform):
    s = signed_in(platform)  # anonymous jobs are never listed: a user lists their own
    r = s.post(
        tap_url + "/async",
        data={
            "LANG": "ADQL",
            "PHASE": "RUN",
            "RUNID": "mine",
            "QUERY": f"SELECT COUNT(*) AS n FROM {T}",
        },
        timeout=30,
    )
    url = r.url  # requests followed the 303 to the job
    assert r.status_code == 200 and "/async/" in url
    # WAIT returns at each change of phase (QUEUED -> EXECUTING -> COMPLETED), as UWS says
    for _ in range(4):
        t = time.monotonic()
        doc = ET.fromstring(s.get(url, params={"WAIT": "30"}, timeout=60).content)
        phase = doc.find("{*}phase").text
        if phase in ("COMPLETED", "ERROR"):
            break
        assert time.monotonic() - t < 29  # it returned on a change, not at the time limit
    assert phase == "COMPLETED", phase
    assert doc.find("{*}runId").text == "mine"
    job_id = doc.find("{*}jobId").text
    jobs = ET.fromstring(
        s.get(tap_url + "/async", params={"PHASE": "COMPLETED"}, timeout=30).content
    )
    assert job_id in [j.get("id") for j in jobs.findall("{*}jobref")]
    jobs = ET.fromstring(s.get(tap_url + "/async", params={"PHASE": "PENDING"}, timeout=30).content)
    assert job_id not in [j.get("id") for j in jobs.findall("{*}jobref")]
    last = ET.fromstring(s.get(tap_url + "/async", params={"LAST": "1"}, timeout=30).content)
    assert len(last.findall("{*}jobref")) == 1
    result = s.get(url + "/results/result", timeout=30)
    assert int(parse_single_table(io.BytesIO(result.content)).to_table()["n"][0]) == len(ROWS)


def test_async_error_and_abort(tap):
    job = tap.submit_job(f"SELECT nosuch FROM {T}")
    job.run()
    job.wait(phases=["COMPLETED", "ERROR"])
    assert job.phase == "ERROR"
    assert "nosuch" in requests.get(job.url + "/error", timeout=10).text
    job.delete()
    # a long query is stopped by ABORT
    job = tap.submit_job(
        f"SELECT COUNT(*) FROM {T} AS a, {T} AS b, {T} AS c, {T} AS d, "
        f"{T} AS e, {T} AS f, {T} AS g, {T} AS h"
    )
    job.run()
    job.wait(phases=["EXECUTING", "COMPLETED"])
    job.abort()
    assert job.phase == "ABORTED"
    job.delete()


def test_parameters_change_only_while_pending(tap_url):
    r = requests.post(
        tap_url + "/async", data={"LANG": "ADQL", "QUERY": "SELECT 1 FROM x"}, timeout=30
    )
    url = r.url
    r = requests.post(url + "/parameters", data={"QUERY": f"SELECT TOP 1 id FROM {T}"}, timeout=30)
    assert r.status_code == 200
    params = ET.fromstring(requests.get(url + "/parameters", timeout=10).content)
    assert {p.get("id"): p.text for p in params}["query"] == f"SELECT TOP 1 id FROM {T}"
    requests.post(url + "/phase", data={"PHASE": "RUN"}, timeout=30)
    requests.get(url, params={"WAIT": "30"})
    r = requests.post(url + "/parameters", data={"QUERY": "SELECT 2 FROM x"}, timeout=30)
    assert r.status_code == 400 and b"PENDING" in r.content
    assert requests.post(url, data={"ACTION": "DELETE"}, timeout=30).status_code == 200


def _upload_votable() -> bytes:
    t = Table(
        {
            "my_id": [101, 102, 103],
            "RA": [0.0002, 10.0001, 123.0],
            "Dec": [0.0, 10.0, -5.0],
            "Label": ["near 1", "near 8", "far"],
        }
    )
    out = io.BytesIO()
    t.write(out, format="votable")
    return out.getvalue()


def test_inline_upload_crossmatched_against_a_published_table(tap):
    upload = Table.read(io.BytesIO(_upload_votable()), format="votable")
    result = tap.run_sync(
        f'SELECT u.my_id, s.id, u."Label" FROM TAP_UPLOAD.mine AS u JOIN {T} AS s '
        "ON 1 = CONTAINS(POINT(s.ra, s.dec), CIRCLE(u.ra, u.dec, 2.0 / 3600)) ORDER BY u.my_id",
        uploads={"mine": upload},
    ).to_table()
    assert [(int(a), int(b)) for a, b in zip(result["my_id"], result["id"], strict=True)] == [
        (101, 1),
        (102, 8),
    ]
    assert [str(v) for v in result["Label"]] == ["near 1", "near 8"]


def test_async_upload(tap):
    # uploads by URL: tests/test_hostile_tap.py (a server with an allow-list)
    job = tap.submit_job(
        "SELECT COUNT(*) AS n FROM TAP_UPLOAD.t1",
        uploads={"t1": Table.read(io.BytesIO(_upload_votable()))},
    )
    job.run()
    job.wait(phases=["COMPLETED", "ERROR"])
    assert job.phase == "COMPLETED", requests.get(job.url + "/error", timeout=10).text
    assert int(job.fetch_result().to_table()["n"][0]) == 3
    job.delete()


def test_upload_refusals_are_errors(tap_url):
    r = requests.post(
        tap_url + "/sync",
        data={"LANG": "ADQL", "UPLOAD": "bad name,param:x", "QUERY": "SELECT 1 FROM TAP_UPLOAD.x"},
        timeout=30,
    )
    assert r.status_code == 400 and b"letters" in r.content
    r = requests.post(
        tap_url + "/sync",
        data={"LANG": "ADQL", "UPLOAD": "t,param:missing", "QUERY": "SELECT 1 FROM TAP_UPLOAD.t"},
        timeout=30,
    )
    assert r.status_code == 400 and b"missing" in r.content
    r = requests.post(
        tap_url + "/sync",
        files={"f": ("f.vot", b"<VOTABLE>broken")},
        data={"LANG": "ADQL", "UPLOAD": "t,param:f", "QUERY": "SELECT * FROM TAP_UPLOAD.t"},
        timeout=30,
    )
    assert r.status_code == 400 and b"not a VOTable" in r.content


def test_vosi_capabilities_tables_availability_examples(tap_url):
    caps = ET.fromstring(requests.get(tap_url + "/capabilities", timeout=10).content)
    tap_caps = [
        c for c in caps.findall("capability") if c.get("standardID") == "ivo://ivoa.net/std/TAP"
    ]
    assert len(tap_caps) == 1
    cap = tap_caps[0]
    assert cap.find("interface").get("version") == "1.1"
    forms = {f.text for f in cap.iter("form")}
    assert {"CONTAINS", "DISTANCE", "POLYGON", "OFFSET", "WITH", "UNION", "CAST"} <= forms
    assert cap.find("outputLimit/hard").text.isdigit()
    assert cap.find("uploadLimit/default").get("unit") == "byte"
    tables = ET.fromstring(requests.get(tap_url + "/tables", timeout=10).content)
    names = {t.find("name").text for t in tables.iter("table")}
    assert {T, "TAP_SCHEMA.columns"} <= names
    ra = next(
        c
        for t in tables.iter("table")
        if t.find("name").text == T
        for c in t.iter("column")
        if c.find("name").text == "ra"
    )
    assert ra.find("unit").text == "deg" and "indexed" in [f.text for f in ra.iter("flag")]
    assert b"<vosi:available>true" in requests.get(tap_url + "/availability", timeout=10).content
    examples = requests.get(tap_url + "/examples", timeout=10)
    assert b'property="query"' in examples.content


def test_tap_schema_describes_the_published_tables(tap):
    t = tap.run_sync(
        "SELECT column_name, datatype, unit, ucd, indexed FROM TAP_SCHEMA.columns "
        f"WHERE table_name = '{T}' ORDER BY column_index"
    ).to_table()
    assert list(t["column_name"]) == ["id", "ra", "dec", "mag", "name"]
    assert list(t["datatype"]) == ["long", "double", "double", "float", "char"]
    assert [int(v) for v in t["indexed"]] == [0, 1, 1, 0, 0]


def test_proprietary_tables_and_jobs_are_their_owners(platform, tap_url):
    from hectornb.tap import ingest_table
    from hectornb.tokens import create as create_token

    owner = requests.get(
        platform["base"] + "/hectornb/api/",
        timeout=10,
        headers={"Authorization": f"token {platform['token']}"},
    ).json()["user"]
    ingest_table(fixed_catalogue()[:3], "private.mine", public=False, owner=owner)
    query = {"LANG": "ADQL", "QUERY": "SELECT COUNT(*) AS n FROM private.mine"}
    me = signed_in(platform)
    assert me.get(tap_url + "/sync", params=query, timeout=30).status_code == 200
    anonymous = requests.get(tap_url + "/sync", params=query, timeout=30)
    assert anonymous.status_code == 400 and b"unknown table" in anonymous.content
    other = signed_in(platform, create_token("someone-else", "tap test")["token"])
    assert other.get(tap_url + "/sync", params=query, timeout=30).status_code == 400
    assert b"private.mine" not in requests.get(tap_url + "/tables", timeout=10).content
    assert b"private.mine" in me.get(tap_url + "/tables", timeout=10).content
    # a signed-in user's job is theirs alone
    r = me.post(tap_url + "/async", data=query, timeout=30)
    job_url = r.url
    assert me.get(job_url, timeout=10).status_code == 200
    assert requests.get(job_url, timeout=10).status_code == 404
    assert other.get(job_url, timeout=10).status_code == 404
    assert other.post(job_url, data={"ACTION": "DELETE"}, timeout=10).status_code == 404
    assert me.delete(job_url, timeout=10).status_code == 200


def test_platform_tables_are_for_signed_in_users(platform, tap_url):
    from hectornb.obslog import ObslogStore
    from hectornb.targets import parse_target_bytes, target_store

    name = f"taplist-{uuid.uuid4().hex[:6]}"
    targets = parse_target_bytes(b"g1,10.5,-30.25\ng2,11.0,-30.5\n", f"{name}.csv")
    target_store().import_list(targets, name, "tapper")
    target_store().classify(name, "g2", 3, "tapper")
    store = ObslogStore()
    store.set_observer("tapper")
    log = store.create(
        "logs",
        {"night": "2025-11-02", "seeing": 1.4, "comment": "tap test", "tags": ["tap", "test"]},
        "tapper",
    )
    me = signed_in(platform)
    q = {
        "LANG": "ADQL",
        "QUERY": "SELECT target, ra, dec, badclass, classified_by FROM "
        f"hectornb.targets WHERE list_name = '{name}' ORDER BY target",
    }
    r = me.get(tap_url + "/sync", params=q, timeout=30)
    t = parse_single_table(io.BytesIO(r.content)).to_table()
    assert [str(v) for v in t["target"]] == ["g1", "g2"]
    assert list(t["ra"]) == [10.5, 11.0] and np.ma.is_masked(t["badclass"][0])
    assert int(t["badclass"][1]) == 3 and str(t["classified_by"][1]) == "tapper"
    q = {
        "LANG": "ADQL",
        "QUERY": f"SELECT seeing, tags, night FROM obslog.logs WHERE log_id = '{log['log_id']}'",
    }
    t = parse_single_table(io.BytesIO(me.get(tap_url + "/sync", params=q, timeout=30).content))
    t = t.to_table()
    assert float(t["seeing"][0]) == 1.4 and str(t["tags"][0]) == "tap test"
    assert str(t["night"][0]) == "2025-11-02"
    anonymous = requests.get(tap_url + "/sync", params=q, timeout=30)
    assert anonymous.status_code == 400 and b"unknown table" in anonymous.content
    seen = requests.get(
        tap_url + "/sync",
        params={"LANG": "ADQL", "QUERY": "SELECT table_name FROM TAP_SCHEMA.tables"},
        timeout=30,
    )
    names = [str(v) for v in parse_single_table(io.BytesIO(seen.content)).to_table()["table_name"]]
    assert T in names and "obslog.logs" not in names and "hectornb.targets" not in names
    # TAP describes the observing log's columns as the log itself does
    from hectornb.obslog.schema import COLLECTIONS

    q = {
        "LANG": "ADQL",
        "QUERY": "SELECT column_name, unit, description FROM "
        "TAP_SCHEMA.columns WHERE table_name = 'obslog.targets'",
    }
    t = parse_single_table(io.BytesIO(me.get(tap_url + "/sync", params=q, timeout=30).content))
    described = {
        str(r["column_name"]): (str(r["unit"]), str(r["description"])) for r in t.to_table()
    }
    assert described["mstar"][0] == "log(solMass)" and "ICRS" in described["ra"][1]
    assert all(
        described[f.name][1] == f.description
        for f in COLLECTIONS["targets"].fields
        if f.name in described
    )


def test_csv_upload_and_the_service_limits(tap_url, database_url):
    from hectornb.tap import TapService
    from hectornb.tap.service import TapError
    from hectornb.tap.uploads import UploadLimits, read_upload

    r = requests.post(
        tap_url + "/sync",
        files={"cat": ("cat.csv", b"name,ra,dec\nx,0.0002,0\n")},
        data={
            "LANG": "ADQL",
            "UPLOAD": "c,param:cat",
            "QUERY": f"SELECT c.name, s.id FROM TAP_UPLOAD.c AS c JOIN {T} AS s ON "
            "DISTANCE(c.ra, c.dec, s.ra, s.dec) < 1.0 / 3600",
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    t = parse_single_table(io.BytesIO(r.content)).to_table()
    assert [(str(a), int(b)) for a, b in zip(t["name"], t["id"], strict=True)] == [("x", 1)]
    # an upload over the limit is refused before it is read
    with pytest.raises(TapError, match="upload limit"):
        read_upload("big", {"bytes": b"name,ra,dec\n" + b"x" * 2048}, UploadLimits(bytes=1024))
    service = TapService()
    # a query longer than its time is stopped by the database, and says so
    with pytest.raises(TapError, match="longer than 1 s"):
        service.query(
            f"SELECT COUNT(*) FROM {T} AS a, {T} AS b, {T} AS c, {T} AS d, {T} AS e, "
            f"{T} AS f, {T} AS g, {T} AS h, {T} AS i",
            None,
            timeout=1,
        )
    # MAXREC beyond the hard limit is the hard limit
    assert service.maxrec(10**12) == service.settings.tap_hard_maxrec
    with pytest.raises(TapError, match="MAXREC"):
        service.maxrec("lots")
