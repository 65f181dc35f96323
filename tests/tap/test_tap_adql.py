"""ADQL on a small fixed catalogue through the running TAP service (pyvo as the client):
expected rows for each query, geometry at the poles and across RA 0/360, and hostile input
that must fail safely (nothing written, nothing private read)."""

from __future__ import annotations

import pytest
import pyvo
from support.tap_fixtures import ROWS, fixed_catalogue, sep_deg

T = "adqltest.stars"


@pytest.fixture(scope="module")
def tap(platform):
    from hectornb.tap import ingest_table

    ingest_table(fixed_catalogue(), T, description="TAP test catalogue")
    return pyvo.dal.TAPService(platform["base"] + "/hectornb/tap")


def ids(tap, query: str) -> list[int]:
    return [int(i) for i in tap.run_sync(query).to_table()["id"]]


# (query, expected ids in order; a set when order is not asked for)
BATTERY = [
    (f"SELECT id FROM {T} WHERE mag < 10", {12, 13, 15}),
    (f"SELECT TOP 3 id FROM {T} WHERE mag IS NOT NULL ORDER BY mag DESC", [14, 10, 9]),
    (f"SELECT id FROM {T} ORDER BY id OFFSET 12", [13, 14, 15]),
    (f"SELECT TOP 2 id FROM {T} ORDER BY id OFFSET 1", [2, 3]),
    (f"SELECT id FROM {T} WHERE mag IS NULL", {11}),
    (f"SELECT id FROM {T} WHERE name LIKE 'north%'", {4, 5}),
    (f"SELECT id FROM {T} WHERE name ILIKE 'NORTH POLE _'", {4, 5}),
    (f"SELECT id FROM {T} WHERE name = 'O''Neil''s star'", {12}),
    (f"SELECT id FROM {T} WHERE name LIKE '%\\%s%'", set()),  # no escape in ADQL LIKE
    (f"SELECT id FROM {T} WHERE name LIKE 'Percent %s star'", {13}),
    (f"SELECT id FROM {T} WHERE id IN (1, 5, 99)", {1, 5}),
    (f"SELECT id FROM {T} WHERE id BETWEEN 3 AND 5 AND NOT id = 4", {3, 5}),
    (f"SELECT id FROM {T} WHERE id IN (SELECT id FROM {T} WHERE mag > 18)", {10, 14}),
    (
        f"SELECT id FROM {T} AS s WHERE EXISTS (SELECT 1 FROM {T} AS t WHERE t.mag = s.mag + 1)",
        {1, 2, 3, 4, 5, 6, 7, 8, 9, 12},
    ),
    # the mean of the 14 magnitudes is 13.29
    (f"SELECT id FROM {T} WHERE mag > (SELECT AVG(mag) FROM {T}) AND dec > 0", {5, 8, 9, 10}),
    (f"WITH b AS (SELECT id, mag FROM {T} WHERE mag < 9) SELECT id FROM b", {12, 13, 15}),
    (f"SELECT id FROM {T} WHERE id < 3 UNION SELECT id FROM {T} WHERE id > 14", {1, 2, 15}),
    (f"SELECT id FROM {T} WHERE id < 5 EXCEPT SELECT id FROM {T} WHERE id > 2", {1, 2}),
    (f"SELECT id FROM {T} WHERE id < 5 INTERSECT SELECT id FROM {T} WHERE id > 2", {3, 4}),
    (f"SELECT id FROM {T} WHERE CASE WHEN mag IS NULL THEN 1 ELSE 0 END = 1", {11}),
    (f"SELECT id FROM {T} WHERE CAST(mag AS INTEGER) = 6", {12, 13}),  # 5.5, 6.5: to even
    (f"SELECT id FROM {T} WHERE COALESCE(mag, -1) < 0", {11}),
    (f"SELECT id FROM {T} WHERE UPPER(name) = 'ORIGIN' AND LOWER(name) = 'origin'", {1}),
    (f"SELECT id FROM {T} WHERE ABS(dec) > 89 AND FLOOR(mag) = mag", {4, 5, 6, 7}),
    (f"SELECT id FROM {T} WHERE MOD(id, 5) = 0", {5, 10, 15}),
    (f"SELECT id FROM {T} WHERE ROUND(mag, 0) = 7 OR TRUNCATE(mag) = 5", {12, 13}),
    (f"SELECT id FROM {T} WHERE POWER(SQRT(id), 2) > 14.5", {15}),
    (f"SELECT id FROM {T} WHERE LOG10(id) = 1 OR EXP(LOG(id)) BETWEEN 1.999 AND 2.001", {2, 10}),
    (f"SELECT id FROM {T} WHERE SIN(RADIANS(dec)) > 0.99", {4, 5}),
    (f"SELECT id FROM {T} WHERE DEGREES(ATAN2(1, 1)) = 45 AND id = 1", {1}),
    # geometry: cones across RA 0/360 and over the poles
    (
        f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(0, 0, 4.0 / 3600))",
        {1, 2, 3},
    ),  # 2 and 3 are 3.6 arcsec from 1, on either side of RA 0
    (f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(0, 0, 3.0 / 3600))", {1}),
    (
        f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(359.9995, 0, 2.0 / 3600))",
        {1, 2},
    ),  # 1.8 arcsec from each, the window in RA wraps through 360
    (
        f"SELECT id FROM {T} WHERE CONTAINS(POINT('ICRS', ra, dec), "
        "CIRCLE('ICRS', 90, 90, 0.0015)) = 1",
        {4, 5},
    ),
    (f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), CIRCLE(0, -90, 0.001))", {6, 7}),
    (f"SELECT id FROM {T} WHERE DISTANCE(POINT(ra, dec), POINT(0, 0)) <= 0.001", {1, 2, 3}),
    (f"SELECT id FROM {T} WHERE 0.001 >= DISTANCE(ra, dec, 0, 0)", {1, 2, 3}),
    (f"SELECT id FROM {T} WHERE 0 = CONTAINS(POINT(ra, dec), CIRCLE(0, 0, 1)) AND dec = 0", set()),
    (f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), BOX(10.25, 10.1, 0.6, 0.4))", {8, 9}),
    (
        f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), "
        "POLYGON(9.9, 9.9, 10.5, 9.9, 10.5, 10.3, 9.9, 10.3))",
        {8, 9},
    ),
    (
        f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), "
        "POLYGON(POINT(359.9, -0.1), POINT(0.1, -0.1), POINT(0.1, 0.1), POINT(359.9, 0.1)))",
        {1, 2, 3},
    ),  # a polygon across RA 0/360
    (
        f"SELECT id FROM {T} WHERE 1 = CONTAINS(POINT(ra, dec), "
        "POLYGON(0, 89.99, 120, 89.99, 240, 89.99))",
        {4, 5},
    ),  # a triangle round the pole
    (
        f"SELECT id FROM {T} WHERE 1 = INTERSECTS(CIRCLE(ra, dec, 0.5), CIRCLE(10.7, 10, 0.3))",
        {8, 9, 10},
    ),
    (f"SELECT id FROM {T} WHERE 1 = INTERSECTS(POINT(ra, dec), CIRCLE(45, 45.25, 0.3))", {12, 13}),
    (f"SELECT id FROM {T} WHERE 1 = CONTAINS(CIRCLE(ra, dec, 0.1), CIRCLE(10, 10, 1))", {8, 9}),
    (
        f"SELECT id FROM {T} WHERE COORD1(POINT(ra, dec)) = 300 AND COORD2(POINT(ra, dec)) = 20",
        {15},
    ),
]


@pytest.mark.parametrize(("query", "expected"), BATTERY, ids=[q[0][7:60] for q in BATTERY])
def test_adql_battery(tap, query, expected):
    got = ids(tap, query)
    if isinstance(expected, list):
        assert got == expected
    else:
        assert sorted(got) == sorted(expected) and len(got) == len(set(got))


def test_distances_agree_with_an_independent_computation(tap):
    rows = tap.run_sync(
        f"SELECT a.id AS a, b.id AS b, DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) AS d "
        f"FROM {T} AS a JOIN {T} AS b ON DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) "
        f"< 10.0 / 3600 WHERE a.id < b.id"
    ).to_table()
    pairs = {(int(r["a"]), int(r["b"])): float(r["d"]) for r in rows}
    # the self-join found every pair closer than 10", including those across RA 0 and poles
    expected = {(a, b) for a in ROWS for b in ROWS if a < b and sep_deg(a, b) < 10 / 3600}
    assert set(pairs) == expected and {(1, 2), (4, 5), (6, 7)} <= expected
    for (a, b), d in pairs.items():
        assert d == pytest.approx(sep_deg(a, b), abs=1e-9)


def test_aggregates_grouping_and_generated_names(tap):
    t = tap.run_sync(
        f"SELECT CASE WHEN dec > 0 THEN 'N' ELSE 'S' END AS half, COUNT(*), MIN(mag), "
        f"MAX(mag), AVG(mag), SUM(id) FROM {T} GROUP BY CASE WHEN dec > 0 THEN 'N' ELSE 'S' END "
        "HAVING COUNT(*) > 1 ORDER BY half"
    ).to_table()
    assert list(t.colnames) == ["half", "count", "min", "max", "avg", "sum"]
    north = [i for i in ROWS if ROWS[i][1] > 0]
    assert [str(v) for v in t["half"]] == ["N", "S"]
    assert int(t["count"][0]) == len(north)
    assert int(t["sum"][1]) == sum(i for i in ROWS if ROWS[i][1] <= 0)
    mags = [ROWS[i][2] for i in north if ROWS[i][2] is not None]
    assert float(t["avg"][0]) == pytest.approx(sum(mags) / len(mags), rel=1e-6)


def test_geometry_in_the_select_list_is_a_dali_value(tap):
    t = tap.run_sync(
        f"SELECT POINT(ra, dec) AS p, CIRCLE(ra, dec, 0.5) AS c, AREA(CIRCLE("
        f"ra, dec, 1)) AS a FROM {T} WHERE id = 12"
    ).to_table()
    assert list(t["p"][0]) == [45.0, 45.0] and list(t["c"][0]) == [45.0, 45.0, 0.5]
    assert float(t["a"][0]) == pytest.approx(3.14155, rel=1e-4)  # 2π(1−cos 1°) in deg²


HOSTILE = [
    # SQL injection through a string: it stays a string
    (f"SELECT id FROM {T} WHERE name = 'x''; DROP TABLE {T}; --'", None),
    # a second statement
    (f"SELECT id FROM {T}; DELETE FROM {T}", "syntax error"),
    # functions that write or wait are not ADQL
    (f"SELECT pg_sleep(10) FROM {T}", "PG_SLEEP"),
    (f"SELECT id FROM {T} WHERE nextval('x') > 0", "NEXTVAL"),
    (f"SELECT set_config('statement_timeout', '0', false) FROM {T}", "SET_CONFIG"),
    (f"SELECT lo_import('/etc/passwd') FROM {T}", "LO_IMPORT"),
    # private tables of the platform and PostgreSQL's catalogues are not published
    ("SELECT * FROM api_tokens", "unknown table"),
    ("SELECT * FROM public.obslog_logs", "unknown table"),
    ("SELECT usename, passwd FROM pg_catalog.pg_shadow", "unknown table"),
    ("SELECT * FROM tap_jobs", "unknown table"),
    (f'SELECT id FROM {T} AS "x"" FROM api_tokens --"', None),  # a quoted alias stays a name
    # nested sub-queries and a huge TOP are fine, and bounded by MAXREC
    (
        f"SELECT id FROM {T} WHERE id IN (SELECT id FROM {T} WHERE id IN (SELECT id FROM {T} "
        f"WHERE id IN (SELECT id FROM {T} WHERE id IN (SELECT id FROM {T} WHERE id < 3))))",
        None,
    ),
    (f"SELECT TOP 999999999999 id FROM {T}", None),
    # unsupported constructs are named with their place
    (f"SELECT REGION('Circle ICRS 0 0 1') FROM {T}", "REGION"),
    (
        f"SELECT id FROM {T} WHERE 1 = INTERSECTS(POLYGON(0,0,1,0,1,1), POLYGON(0,0,2,0,2,2))",
        "INTERSECTS(POLYGON, POLYGON)",
    ),
    (f"SELECT id FROM {T} WHERE ", "ends too early"),
]


@pytest.mark.parametrize(("query", "error"), HOSTILE, ids=[h[0][:50] for h in HOSTILE])
def test_hostile_input_fails_safely(tap, platform, query, error):
    if error is None:
        tap.run_sync(query)
    else:
        with pytest.raises(pyvo.dal.DALQueryError) as exc:
            tap.run_sync(query)
        assert error.lower() in str(exc.value).lower()
    # nothing was written: the table is whole and the service still answers
    assert len(ids(tap, f"SELECT id FROM {T}")) == len(ROWS)


def test_errors_say_where(tap):
    with pytest.raises(pyvo.dal.DALQueryError) as exc:
        tap.run_sync(f"SELECT id,\n  nosuchcolumn FROM {T}")
    assert "nosuchcolumn" in str(exc.value) and "line 2, column 3" in str(exc.value)
    with pytest.raises(pyvo.dal.DALQueryError) as exc:
        tap.run_sync(f"SELECT id FROM {T} WHERE mag >> 3")
    assert "line 1, column" in str(exc.value)


def test_geometry_fields_are_dali_typed(tap):
    import io

    import requests
    from astropy.io.votable import parse_single_table

    r = requests.get(
        tap.baseurl + "/sync",
        params={
            "LANG": "ADQL",
            "QUERY": f"SELECT POINT(1, 2) AS p, CENTROID(CIRCLE(1, 2, 3)) AS c, "
            f"CIRCLE(ra, dec, 1) AS circ, POLYGON(0, 0, 1, 0, 1, 1) AS poly FROM {T} WHERE id = 1",
        },
        timeout=30,
    )
    table = parse_single_table(io.BytesIO(r.content))
    fields = {f.name: f for f in table.fields}
    for name, xtype, arraysize in (
        ("p", "point", "2"),
        ("c", "point", "2"),
        ("circ", "circle", "3"),
        ("poly", "polygon", "*"),
    ):
        assert (fields[name].datatype, fields[name].xtype, fields[name].arraysize) == (
            "double",
            xtype,
            arraysize,
        )
    row = table.to_table()[0]
    assert list(row["c"]) == [1.0, 2.0] and list(row["poly"]) == [0, 0, 1, 0, 1, 1]
