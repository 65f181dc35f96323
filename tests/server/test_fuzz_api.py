"""A bounded fuzz pass over the running platform: every operation of the REST API (read from
its own OpenAPI document) and the TAP endpoints get generated bodies, query arguments and
path values, hostile ones included (NUL, huge and non-finite numbers, deep nesting, odd
Unicode). Whatever comes in, the answer is never a 5xx."""

from __future__ import annotations

import json
import re

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hectornb.obslog import ObslogStore
from hectornb.server.openapi import document

# values a careless or hostile client sends
NASTY_TEXT = [
    "",
    "\x00",
    "a\x00b",
    "%00",
    "../../etc/passwd",
    "'; DROP TABLE x; --",
    "𝔘𝔫𝔦",
    "\ud7ff",
    " " * 300,
    "=cmd|' /C calc'!A0",
    "<script>",
    "null",
    "-1",
    "1e400",
    "nan",
    "inf",
    "9223372036854775808",
    "-9223372036854775809",
    "0x10",
    "1_000",
]
text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=40))
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True)
)
# what an HTTP client can put in a header at all
header_values = st.one_of(
    st.sampled_from(['"1"', 'W/"3"', "-1", "nan", "1e400", '"x"', "99999999999999999999", "*"]),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


def _operations() -> list[tuple[str, str, dict]]:
    out = []
    for path, ops in document()["paths"].items():
        for method, op in ops.items():
            if method in ("get", "post", "put", "patch", "delete"):
                out.append((method.upper(), path, op))
    return out


OPERATIONS = _operations()


def _body_fields(op: dict) -> list[str]:
    schema = (
        op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    )
    return list(schema.get("properties", {}))


@st.composite
def requests_for(draw, op: dict, path: str):
    params = {
        p["name"]: draw(st.one_of(text, numbers.map(str)))
        for p in op.get("parameters", [])
        if p.get("in", "query") == "query" and draw(st.booleans())
    }
    headers = {
        p["name"]: draw(header_values) for p in op.get("parameters", []) if p.get("in") == "header"
    }
    values = {
        name: draw(
            st.one_of(
                text.filter(lambda s: "/" not in s and s not in ("", ".", "..")),
                st.integers(min_value=-5, max_value=2**66).map(str),
            )
        )
        for name in re.findall(r"{(\w+)}", path)
    }
    fields = _body_fields(op)
    body = draw(
        st.one_of(
            st.fixed_dictionaries({}, optional={f: json_values for f in fields}),
            json_values,
            st.sampled_from(["[" * 50_000 + "]" * 50_000, '{"a":', "\x00", ""]),
        )
    )
    return params, headers, values, body


def _url(base: str, path: str, values: dict[str, str]) -> str:
    from urllib.parse import quote

    for name, value in values.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    return base + path


@pytest.fixture(scope="module")
def observer(platform):
    headers = {"Authorization": f"token {platform['token']}"}
    me = requests.get(platform["base"] + "/hectornb/api/", headers=headers, timeout=30)
    ObslogStore().set_observer(me.json()["user"])
    yield
    ObslogStore().set_observer(me.json()["user"], False)


@pytest.mark.parametrize(
    ("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_no_input_makes_the_api_answer_5xx(platform, observer, method, path, op):
    session = requests.Session()
    session.headers["Authorization"] = f"token {platform['token']}"

    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(requests_for(op, path))
    def one(case):
        params, headers, values, body = case
        data = body if isinstance(body, str) else json.dumps(body, allow_nan=True)
        r = session.request(
            method,
            _url(platform["base"], path, values),
            params=params,
            headers={**headers, "Content-Type": "application/json"},
            data=data.encode("utf-8", "surrogatepass"),
            timeout=60,
        )
        assert r.status_code < 500, (method, path, params, values, str(body)[:200], r.text[:300])

    one()


TAP_PARAMS = {
    "LANG": st.one_of(st.sampled_from(["ADQL", "ADQL-2.1", "SQL"]), text),
    "QUERY": st.one_of(
        st.sampled_from(
            [
                "SELECT TOP 5 * FROM TAP_SCHEMA.tables",
                "SELECT 1/0 FROM TAP_SCHEMA.tables",
                "SELECT * FROM TAP_SCHEMA.columns WHERE 1 = CONTAINS(POINT(1, 2), CIRCLE(1, 2, 3))",
                "SELECT pg_sleep(10)",
            ]
        ),
        text,
    ),
    "MAXREC": st.one_of(text, numbers.map(str)),
    "RESPONSEFORMAT": st.one_of(
        st.sampled_from(["votable", "csv", "fits", "tsv", "votable/b2"]), text
    ),
    "UPLOAD": st.one_of(
        st.sampled_from(["t,param:f", "t,http://127.0.0.1:1/x", "bad name,param:f"]), text
    ),
    "PHASE": st.one_of(st.sampled_from(["RUN", "ABORT"]), text),
    "DESTRUCTION": text,
    "EXECUTIONDURATION": st.one_of(text, numbers.map(str)),
    "LAST": st.one_of(text, numbers.map(str)),
    "AFTER": text,
    "WAIT": text,
}


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(
    st.fixed_dictionaries({}, optional=TAP_PARAMS),
    st.sampled_from(["sync", "async", "async/0123456789abcdef0123456789abcdef"]),
    st.sampled_from(["GET", "POST"]),
    st.binary(max_size=200),
)
def test_no_input_makes_tap_answer_5xx(platform, params, endpoint, method, upload):
    url = f"{platform['base']}/hectornb/tap/{endpoint}"
    if method == "GET":
        r = requests.get(url, params=params, timeout=60)
    else:
        r = requests.post(url, data=params, files={"f": ("f.csv", upload)}, timeout=60)
    assert r.status_code < 500, (method, endpoint, params, r.text[:300])
    if "/async/" in r.url and r.status_code == 200:  # a job it made: gone again
        requests.post(r.url, data={"ACTION": "DELETE"}, timeout=30)
