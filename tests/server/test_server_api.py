"""The REST API of a running ``hectornb serve``, over real HTTP, against the real database."""

from __future__ import annotations

import csv
import io
import re

import requests


def api(platform, method, path, **kw):
    headers = {"Authorization": f"token {platform['token']}", **kw.pop("headers", {})}
    return requests.request(
        method, platform["base"] + "/hectornb/api/" + path, headers=headers, timeout=30, **kw
    )


def test_token_is_required(platform):
    assert requests.get(platform["base"] + "/hectornb/api/", timeout=10).status_code == 403
    assert api(platform, "GET", "").json()["version"]


def test_landing_page_links_the_apps(platform):
    r = requests.get(platform["base"] + f"/?token={platform['token']}", timeout=10)
    assert r.status_code == 200
    for app in ("classify", "reduce", "explore", "obslog", "tap"):
        assert f"voila/render/{app}.ipynb" in r.text
    assert 'href="/hectornb/tap"' in r.text  # the TAP service, for pyvo and TOPCAT
    # and the spectra's services: SSA (its link answers with its fields) and DataLink
    ssa = re.search(r'href="(/hectornb/ssa/[^"]*)"', r.text)
    assert ssa and "ivoa.obscore" in r.text and "/hectornb/datalink/links?ID=" in r.text
    fields = requests.get(platform["base"] + ssa.group(1).replace("&amp;", "&"), timeout=30)
    assert fields.status_code == 200 and b'utype="ssa:Access.Reference"' in fields.content


def test_upload_classify_undo_export(platform, list_name):
    body = b"NGC6337,17:22:15.67,-38:29:01.73\nNGC5189,13:33:32.88,-65:58:27.04\n"
    r = api(
        platform,
        "POST",
        "targets/lists",
        params={"filename": "x.csv", "name": list_name},
        data=body,
    )
    assert r.status_code == 201, r.text
    assert r.json()["n_targets"] == 2

    r = api(
        platform, "PUT", f"targets/lists/{list_name}/targets/NGC5189/badclass", json={"badclass": 7}
    )
    assert r.status_code == 200 and r.json()["badclass"] == 7
    user = api(platform, "GET", "").json()["user"]
    assert r.json()["classified_by"] == user  # identity from the server, not the request

    page = api(
        platform, "GET", f"targets/lists/{list_name}/targets", params={"badclass": "7"}
    ).json()
    assert [t["name"] for t in page["targets"]] == ["NGC5189"]
    assert page["label"] == "1–1 of 1" and page["progress"]["done"] == 1

    assert (
        api(platform, "POST", f"targets/lists/{list_name}/undo").json()["undone"]["badclass"]
        is None
    )
    api(
        platform, "PUT", f"targets/lists/{list_name}/targets/NGC6337/badclass", json={"badclass": 4}
    )
    r = api(platform, "GET", f"targets/lists/{list_name}/export.csv")
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["name"], x["badclass"]) for x in rows] == [("NGC6337", "4"), ("NGC5189", "")]


def test_bad_input_gets_clear_errors(platform, list_name):
    r = api(
        platform,
        "POST",
        "targets/lists",
        params={"filename": "bad.csv", "name": list_name},
        data=b"A,1,2\nB,99:00:00,2\nA,3,4\n",
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"line": 2, "message": "RA '99:00:00': hours 99 must be below 24"},
        {"line": 3, "message": "duplicate target name 'A' (first on line 1)"},
    ]
    assert list_name not in [
        x["name"] for x in api(platform, "GET", "targets/lists").json()["lists"]
    ]
    assert api(platform, "GET", "targets/lists/nope/targets").status_code == 404
    api(
        platform,
        "POST",
        "targets/lists",
        params={"filename": "ok.csv", "name": list_name},
        data=b"A,1,2\n",
    )
    for bad in ({"badclass": 9}, {"badclass": "4"}, {"badclass": True}):
        r = api(platform, "PUT", f"targets/lists/{list_name}/targets/A/badclass", json=bad)
        assert r.status_code == 422 and "0–8" in r.json()["error"]
    r = api(
        platform, "GET", f"targets/lists/{list_name}/targets", params={"name": "(", "regex": "true"}
    )
    assert r.status_code == 422 and "regular expression" in r.json()["error"]
    assert "Traceback" not in r.text


def test_openapi_describes_every_route(platform):
    from openapi_spec_validator import validate

    from hectornb.server.handlers import handlers

    doc = api(platform, "GET", "openapi.json").json()
    validate(doc)
    described = {p.rstrip("/") for p in doc["paths"]}
    for pattern, *_ in handlers("/"):
        if not pattern.startswith("/hectornb/api"):
            continue
        path = re.sub(r"\(\[\^/\]\+\)|\(\[0-9a-fA-F-\]\{36\}\)|\(\.\+\)", "{}", pattern).rstrip(
            "/?"
        )
        templated = {re.sub(r"\{[^}]+\}", "{}", p) for p in described}
        path = path.replace("\\.", ".")
        # a group of names (the Obslog collections) is one route per name
        names = re.search(r"\(([a-z|]+)\)", path)
        for one in names.group(1).split("|") if names else [None]:
            expanded = path.replace(names.group(0), one) if names else path
            assert expanded.rstrip("/") in templated, f"{pattern} is not in the OpenAPI document"


def test_api_tokens_act_as_their_user_until_revoked(platform):
    import uuid

    from hectornb.tokens import create

    r = api(platform, "POST", "tokens", json={"name": "nightly script"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["token"].startswith("hnb_")
    me = api(platform, "GET", "").json()["user"]
    script = {"Authorization": f"token {made['token']}"}
    base = platform["base"] + "/hectornb/api/"
    assert requests.get(base, headers=script, timeout=10).json()["user"] == me
    listed = api(platform, "GET", "tokens").json()["tokens"]
    assert made["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)  # the value is shown once, never again
    # a token cannot make tokens; a POST with it needs no XSRF cookie (scripts have none)
    assert (
        requests.post(base + "tokens", json={"name": "x"}, headers=script, timeout=10).status_code
        == 403
    )
    # someone else's token acts as them, never as the server's user
    theirs = create("someone-else-" + uuid.uuid4().hex[:6], "their script")
    other = {"Authorization": f"token {theirs['token']}"}
    assert requests.get(base, headers=other, timeout=10).json()["user"].startswith("someone")
    assert (
        requests.delete(base + f"tokens/{theirs['id']}", headers=script, timeout=10).status_code
        == 403
    )
    assert api(platform, "DELETE", f"tokens/{made['id']}").status_code == 204
    r = requests.get(base, headers=script, timeout=10)
    assert r.status_code == 403 and "revoked" in r.json()["error"]
    bad = requests.get(base, headers={"Authorization": "token hnb_forged"}, timeout=10)
    assert bad.status_code == 403


def test_an_api_token_expires_a_year_after_it_was_made(platform):
    from hectornb.db import connect
    from hectornb.tokens import create

    made = create("someone-who-left", "old script")
    script = {"Authorization": f"token {made['token']}"}
    base = platform["base"] + "/hectornb/api/"
    assert requests.get(base, headers=script, timeout=10).json()["user"] == "someone-who-left"
    with connect() as conn:  # made 366 days ago
        conn.execute(
            "UPDATE api_token SET created = now() - interval '366 days' WHERE id = %s",
            (made["id"],),
        )
    assert requests.get(base, headers=script, timeout=10).status_code == 403
