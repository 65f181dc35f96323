"""The Obslog REST API of a running ``hectornb serve`` over real HTTP and the real database:
create, read, list with filters, edit as versions, soft delete and restore, history, the
observer role, and a clear 422 for bad input on every field."""

from __future__ import annotations

import concurrent.futures as cf
import uuid

import pytest
import requests

from hectornb.obslog import COLLECTIONS, ObslogStore
from hectornb.tokens import create as create_token


@pytest.fixture()
def observer(platform):
    """The server's own user (the platform's token) with the observer role; the role is
    taken back afterwards."""
    me = requests.get(
        platform["base"] + "/hectornb/api/",
        headers={"Authorization": f"token {platform['token']}"},
        timeout=10,
    ).json()["user"]
    store = ObslogStore()
    store.set_observer(me)
    yield me
    store.set_observer(me, False)


def call(platform, method, path, token=None, **kw):
    headers = {"Authorization": f"token {token or platform['token']}", **kw.pop("headers", {})}
    return requests.request(
        method, platform["base"] + "/hectornb/api/obslog/" + path, headers=headers, timeout=30, **kw
    )


def galaxy_id() -> int:
    return uuid.uuid4().int >> 66  # a 62-bit catalogue id no other test uses


def test_collections_describe_their_fields(platform, observer):
    body = call(platform, "GET", "").json()
    assert body["observer"] is True
    names = {c["name"]: c for c in body["collections"]}
    assert set(names) == set(COLLECTIONS)
    ra = next(f for f in names["targets"]["fields"] if f["name"] == "ra")
    assert ra["unit"] == "deg" and ra["required"] and ra["filter"] == "range"


def test_create_read_edit_delete_restore_with_history(platform, observer):
    gid = galaxy_id()
    r = call(
        platform,
        "POST",
        "targets",
        json={"galaxy_id": gid, "ra": 150.1, "dec": 2.2, "z": 0.05, "r_mag": 17.2},
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["author"] == observer
    # the same id twice is a conflict, not an overwrite
    again = call(platform, "POST", "targets", json={"galaxy_id": gid, "ra": 1, "dec": 1})
    assert again.status_code == 409 and "exists already" in again.json()["error"]

    got = call(platform, "GET", f"targets/{gid}")
    assert got.json()["z"] == 0.05 and got.headers["ETag"] == '"1"'
    edited = call(
        platform, "PATCH", f"targets/{gid}", json={"z": 0.051}, headers={"If-Match": '"1"'}
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2
    assert edited.json()["r_mag"] == 17.2  # untouched fields carried over
    # an edit based on version 1 now would overwrite version 2 unseen: refused
    stale = call(platform, "PATCH", f"targets/{gid}", json={"z": 0.9}, headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and "version 2" in stale.json()["error"]
    assert call(platform, "GET", f"targets/{gid}?version=1").json()["z"] == 0.05

    assert call(platform, "DELETE", f"targets/{gid}").json()["deleted"] is True
    listed = call(platform, "GET", f"targets?galaxy_id={gid}").json()
    assert listed["total"] == 0  # deleted records are not listed by default
    listed = call(platform, "GET", f"targets?galaxy_id={gid}&deleted=true").json()
    assert [t["galaxy_id"] for t in listed["items"]] == [gid]
    restored = call(platform, "POST", f"targets/{gid}/restore")
    assert restored.status_code == 200 and restored.json()["deleted"] is False

    history = call(platform, "GET", f"targets/{gid}/history").json()["history"]
    assert [h["version"] for h in history] == [1, 2, 3, 4]
    assert history[1]["changed"] == {"z": {"from": 0.05, "to": 0.051}}
    assert history[2]["changed"] == {"deleted": {"from": False, "to": True}}
    assert all(h["author"] == observer for h in history)


def test_bad_input_names_every_field_and_stores_nothing(platform, observer):
    r = call(
        platform,
        "POST",
        "logs",
        json={
            "night": "2025-13-01",
            "seeing": -1,
            "exposure": "long",
            "qc": "maybe",
            "tags": ["ok", "not a word"],
            "transparency": "foggy",
            "time_lost": 30,
            "time": "yesterday",
            "frames": 7,
            "colour": "red",
        },
    )
    assert r.status_code == 422
    reasons = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert set(reasons) == {
        "night",
        "seeing",
        "exposure",
        "qc",
        "tags",
        "transparency",
        "time_lost",
        "time",
        "frames",
        "colour",
    }
    assert "YYYY-MM-DD" in reasons["night"] and "between 0 and 20 arcsec" in reasons["seeing"]
    assert "pass, fail, pending" in reasons["qc"] and reasons["colour"] == "unknown field"
    assert "between 0 and 24 h" in reasons["time_lost"]
    # targets: every field's rule
    r = call(
        platform, "POST", "targets", json={"galaxy_id": 1.5, "ra": 400, "dec": "north", "z": 99}
    )
    reasons = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert set(reasons) == {"galaxy_id", "ra", "dec", "z"}
    # a missing required field, a body that is not JSON, a run that ends before it starts
    r = call(platform, "POST", "stars", json={"star_id": "S1", "ra": 10, "dec": 5})
    assert r.json()["errors"] == [{"field": "kind", "reason": "required"}]
    r = call(
        platform, "POST", "stars", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"] == "the body is not JSON"
    r = call(
        platform,
        "POST",
        "runs",
        json={"run_id": "R-bad", "start_date": "2025-10-05", "end_date": "2025-10-01"},
    )
    assert r.json()["errors"] == [{"field": "end_date", "reason": "is before start_date"}]
    # tiles: the hexabundle rules (A-U; H and U take standard stars; GS1-GS6 guides)
    r = call(
        platform,
        "POST",
        "tiles",
        json={
            "tile_id": "T-bad",
            "ra": 10,
            "dec": 5,
            "date": "2031-02-29",
            "qc_pass": "maybe",
            "bundles": {
                "H": {"kind": "target", "id": "1"},
                "Z": {"kind": "star", "id": "S"},
                "A": "galaxy 12",
            },
            "guides": {"GS9": "G1"},
            "sky": "none",
        },
    )
    reasons = {e["field"]: e["reason"] for e in r.json()["errors"]}
    assert set(reasons) == {
        "date",
        "qc_pass",
        "bundles.H",
        "bundles.Z",
        "bundles.A",
        "guides",
        "sky",
    }
    assert reasons["bundles.H"] == "bundle H takes a standard star"
    assert reasons["bundles.Z"] == "Hector's hexabundles are A to U"
    # bad filters are named too
    r = call(platform, "GET", "logs?min_seeing=good&order_by=colour&limit=5000&weather=x")
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"min_seeing", "order_by", "limit", "weather"}
    assert call(platform, "GET", "nebulae").status_code == 404
    # nothing of the above was stored
    assert call(platform, "GET", "stars?star_id=S1").json()["total"] == 0
    assert call(platform, "GET", "runs/R-bad").status_code == 404


def test_filters_ordering_and_paging(platform, observer):
    night = "2031-04-0"  # nights no other test writes
    tag = "t" + uuid.uuid4().hex[:8]
    made = []
    for k in range(12):
        r = call(
            platform,
            "POST",
            "logs",
            json={
                "night": f"{night}{k % 3 + 1}",
                "time": f"{night}{k % 3 + 1}T1{k % 10}:00:00Z",
                "seeing": 0.8 + 0.1 * k,
                "qc": "pass" if k % 2 else "fail",
                "comment": f"field {k} in cloud" if k % 4 == 0 else f"field {k}",
                "tags": [tag] + (["twilight"] if k < 3 else []),
            },
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    base = f"logs?tags={tag}"
    assert call(platform, "GET", base).json()["total"] == 12
    r = call(platform, "GET", base + f"&min_night={night}2&max_night={night}3").json()
    assert r["total"] == 8 and all(i["night"] >= f"{night}2" for i in r["items"])
    r = call(platform, "GET", base + "&min_seeing=1.5&qc=pass").json()
    assert sorted(i["seeing"] for i in r["items"]) == pytest.approx([1.5, 1.7, 1.9])
    r = call(platform, "GET", base + "&q=cloud").json()
    assert r["total"] == 3
    r = call(platform, "GET", base + "&exclude_tags=twilight").json()
    assert r["total"] == 9
    # order by seeing descending, two pages of five, stable
    first = call(platform, "GET", base + "&order_by=-seeing&limit=5").json()["items"]
    second = call(platform, "GET", base + "&order_by=-seeing&limit=5&offset=5").json()["items"]
    seeing = [i["seeing"] for i in first + second]
    assert (
        seeing == sorted(seeing, reverse=True)
        and len(set(i["log_id"] for i in first + second)) == 10
    )


def test_reads_for_everyone_writes_for_observers_only(platform, observer):
    gid = galaxy_id()
    call(platform, "POST", "targets", json={"galaxy_id": gid, "ra": 10.0, "dec": -5.0})
    reader = create_token("reader-" + uuid.uuid4().hex[:6], "a script")["token"]
    assert call(platform, "GET", f"targets/{gid}", token=reader).status_code == 200
    for method, path, body in (
        ("POST", "targets", {"galaxy_id": galaxy_id(), "ra": 1, "dec": 1}),
        ("PATCH", f"targets/{gid}", {"z": 0.1}),
        ("DELETE", f"targets/{gid}", None),
    ):
        r = call(platform, method, path, token=reader, json=body)
        assert r.status_code == 403 and "not an observer" in r.json()["error"], (method, r.text)
    assert call(platform, "GET", f"targets/{gid}").json()["version"] == 1


def test_concurrent_edits_lose_nothing(platform, observer):
    """Twenty edits at once of one record, each based on what it read: each either lands
    as a version or is refused as a conflict; none is silently overwritten."""
    run = "R-" + uuid.uuid4().hex[:8]
    call(
        platform,
        "POST",
        "runs",
        json={"run_id": run, "start_date": "2031-05-01", "end_date": "2031-05-07", "comment": ""},
    )

    def edit(k: int):
        current = call(platform, "GET", f"runs/{run}").json()
        return call(
            platform,
            "PATCH",
            f"runs/{run}",
            json={"comment": f"edit {k}"},
            headers={"If-Match": str(current["version"])},
        ).status_code

    with cf.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(edit, range(20)))
    assert set(codes) <= {200, 409} and 200 in codes
    history = call(platform, "GET", f"runs/{run}/history").json()["history"]
    assert len(history) == 1 + codes.count(200)  # every accepted edit is a version
    assert [h["version"] for h in history] == list(range(1, len(history) + 1))


def test_a_tile_page_a_run_page_a_target_page_and_csv(platform, observer, tmp_path):
    """The queries of the app: from a tile to its bundles' targets and stars and the logs
    and run that observed it; from the run to its nights, tiles and targets; from a target
    to every tile and log that holds it. The CSV export is what the list returns."""
    import csv
    import io

    from support.hector_tiles import tile_text

    from hectornb.obslog.tiles import read_tile_file

    base = uuid.uuid4().int >> 72
    path = tmp_path / "Tile_Q.csv"
    path.write_text(tile_text(base, f"Q_{base}"))
    tile_id = ObslogStore().import_tile(read_tile_file(path), observer)["tile_id"]
    run = "R-" + uuid.uuid4().hex[:8]
    call(
        platform,
        "POST",
        "runs",
        json={
            "run_id": run,
            "start_date": "2031-06-01",
            "end_date": "2031-06-03",
            "observers": ["ann"],
        },
    )
    for night, hour, seeing in (
        ("2031-06-01", 11, 1.1),
        ("2031-06-01", 13, 1.3),
        ("2031-06-02", 12, 0.9),
    ):
        r = call(
            platform,
            "POST",
            "logs",
            json={
                "night": night,
                "run_id": run,
                "time": f"{night}T{hour}:00:00Z",
                "tile_id": tile_id,
                "seeing": seeing,
            },
        )
        assert r.status_code == 201, r.text

    page = call(platform, "GET", f"tiles/{tile_id}/related").json()
    assert [b["bundle"] for b in page["bundles"]][:21] == list("ABCDEFGHIJKLMNOPQRSTU")
    a = page["bundles"][0]
    assert a["kind"] == "target" and a["record"]["galaxy_id"] == base
    assert page["bundles"][7]["record"]["kind"] == "standard"  # H: a standard star
    assert [g["seeing"] for g in page["logs"]] == [1.1, 1.3, 0.9]
    assert [r["run_id"] for r in page["runs"]] == [run]

    run_page = call(platform, "GET", f"runs/{run}/related").json()
    assert run_page["nights"] == [
        {"night": "2031-06-01", "logs": 2},
        {"night": "2031-06-02", "logs": 1},
    ]
    assert [t["tile_id"] for t in run_page["tiles"]] == [tile_id]
    assert len(run_page["targets"]) == 19

    target_page = call(platform, "GET", f"targets/{base}/related").json()
    assert [t["tile_id"] for t in target_page["tiles"]] == [tile_id]
    assert len(target_page["logs"]) == 3

    exported = call(platform, "GET", f"logs.csv?run_id={run}&order_by=seeing")
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    listed = call(platform, "GET", f"logs?run_id={run}&order_by=seeing").json()["items"]
    assert [r["log_id"] for r in rows] == [g["log_id"] for g in listed]
    assert [float(r["seeing"]) for r in rows] == [0.9, 1.1, 1.3]
    assert all(r["author"] == observer and r["tile_id"] == tile_id for r in rows)


def test_night_report_pdf(platform, observer):
    import io

    from pypdf import PdfReader

    night = "2031-07-0" + str(uuid.uuid4().int % 9 + 1)
    run = "R-" + uuid.uuid4().hex[:8]
    call(
        platform,
        "POST",
        "runs",
        json={
            "run_id": run,
            "start_date": "2031-07-01",
            "end_date": "2031-07-09",
            "observers": ["ann", "bo"],
            "instrument": "Hector",
        },
    )
    # written out of order; the later one as the observer types it: a UT time of the night
    for time, seeing, comment, lost in (
        ("12:10", 2.4, "cloud came in", 1.5),
        (f"{night}T10:00:00Z", 1.2, "first field, clear", 0),
    ):
        r = call(
            platform,
            "POST",
            "logs",
            json={
                "night": night,
                "time": time,
                "run_id": run,
                "exposure": 1800,
                "tile_id": "T-77",
                "seeing": seeing,
                "comment": comment,
                "time_lost": lost,
                "lost_reason": "cloud" if lost else "",
            },
        )
        assert r.status_code == 201, r.text
    assert r.json()["time"].startswith(f"{night}T10:00:00")
    r = call(platform, "POST", "logs", json={"night": night, "time": "noon"})
    assert r.status_code == 422 and "hh:mm" in r.text
    r = call(platform, "GET", f"reports/{night}.pdf")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    for expected in (
        f"Night report {night}",
        run,
        "ann, bo",
        "2 log entries",
        "1.00 h of exposure",
        "1.50 h lost (cloud)",
        "first field, clear",
        "cloud came in",
        "median 1.80",
        "seeing (″)",
        "T-77",
    ):
        assert expected in text, (expected, text)
    # the entries in UT order, each with its UT time and tile; the seeing plotted against UT
    assert text.index("10:00 T-77") < text.index("12:10 T-77") < text.index("cloud came in")
    assert "?" not in text and "\nUT\n" in f"\n{text}\n"
    assert call(platform, "GET", "reports/yesterday.pdf").status_code == 422
