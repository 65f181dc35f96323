"""TAP results written while they are read: every output format gives the same table as the
whole-result writer, a long result that MAXREC cut ends with the OVERFLOW status pyvo reads,
and an error after the first rows closes the VOTable with an ERROR status."""

from __future__ import annotations

import io
import math

import pytest
from astropy.io.votable import parse as parse_votable
from astropy.table import Table

from hectornb.tap.result import Result, ResultField, write
from hectornb.tap.stream import PREFETCH, Rows, stream

FIELDS = [
    ResultField("id", "long", None, None, None, None, None, "row number"),
    ResultField("ra", "double", None, None, "deg", "pos.eq.ra", None, None),
    ResultField("name", "char", "*", None, None, None, None, None),
    ResultField("flag", "boolean", None, None, None, None, None, None),
    ResultField("mags", "double", "*", None, "mag", None, None, None),
    ResultField("n", "int", None, None, None, None, None, None),
]


def rows(n: int) -> list[tuple]:
    return [
        (
            k,
            k * 0.001,
            None if k % 7 == 0 else f"star <{k}> & co",
            k % 2 == 0,
            [k * 0.5, math.nan] if k % 5 else None,
            None if k % 3 == 0 else k,
        )
        for k in range(n)
    ]


def streamed(
    data: list[tuple],
    writer: str,
    overflow: bool = False,
    batch: int = 3000,
    fail_after: int | None = None,
    max_bytes: int | None = None,
) -> bytes:
    out = Rows(FIELDS, iter(()), {"QUERY": "SELECT"})

    def batches():
        for k in range(0, len(data), batch):
            if fail_after is not None and k >= fail_after:
                raise ValueError("the query ran longer than 60 s and was stopped")
            yield data[k : k + batch]
        out.overflow = overflow

    out.batches = batches()
    return b"".join(stream(out, writer, max_bytes=max_bytes))


def as_table(data: bytes, writer: str) -> Table:
    if writer == "fits":
        return Table.read(io.BytesIO(data), format="fits")
    if writer in ("csv", "tsv"):
        return Table.read(io.BytesIO(data), format="ascii.csv" if writer == "csv" else "ascii.tab")
    return parse_votable(io.BytesIO(data)).get_first_table().to_table()


@pytest.mark.parametrize("writer", ["votable", "binary2", "csv", "tsv", "fits"])
def test_a_long_result_streamed_is_the_table_the_whole_writer_makes(writer):
    data = rows(PREFETCH * 2 + 123)
    whole = as_table(write(Result(FIELDS, data, False, {"QUERY": "SELECT"}), writer), writer)
    piecewise = as_table(streamed(data, writer), writer)
    assert len(piecewise) == len(data) and piecewise.colnames == whole.colnames
    for name in whole.colnames:
        a, b = whole[name], piecewise[name]
        if a.dtype.kind == "f":
            assert ((a == b) | (a != a) & (b != b)).all(), name
        else:
            assert [str(x) for x in a] == [str(x) for x in b], name
    if writer in ("votable", "binary2"):
        assert piecewise["ra"].unit == "deg"


def test_a_short_result_is_byte_for_byte_the_whole_document():
    data = rows(50)
    for writer in ("votable", "binary2", "csv", "tsv", "fits"):
        assert streamed(data, writer) == write(
            Result(FIELDS, data, False, {"QUERY": "SELECT"}), writer
        )


def test_overflow_of_a_long_result_is_a_trailing_status_pyvo_reads():
    import pyvo

    body = streamed(rows(PREFETCH + 10), "votable", overflow=True)
    result = pyvo.dal.TAPResults(parse_votable(io.BytesIO(body)))
    assert result.query_status == "OVERFLOW" and len(result) == PREFETCH + 10
    body = streamed(rows(PREFETCH + 10), "votable", overflow=False)
    assert pyvo.dal.TAPResults(parse_votable(io.BytesIO(body))).query_status == "OK"


def test_an_error_after_the_first_rows_closes_the_document_with_an_error_status():
    body = streamed(rows(PREFETCH * 3), "votable", fail_after=PREFETCH + 3000)
    resource = parse_votable(io.BytesIO(body)).resources[0]
    statuses = [(i.value, i.content) for i in resource.infos if i.name == "QUERY_STATUS"]
    assert statuses[-1][0] == "ERROR" and "longer than 60 s" in statuses[-1][1]
    b2 = streamed(rows(PREFETCH * 3), "binary2", fail_after=PREFETCH + 3000)
    assert b'value="ERROR"' in b2 and parse_votable(io.BytesIO(b2)).get_first_table()


def test_a_byte_limit_ends_the_rows_as_an_overflow():
    import pyvo

    body = streamed(rows(PREFETCH * 5), "votable", max_bytes=2_000_000)
    result = pyvo.dal.TAPResults(parse_votable(io.BytesIO(body)))
    assert result.query_status == "OVERFLOW"
    assert PREFETCH <= len(result) < PREFETCH * 5
    assert len(body) < 2_000_000 + 1_500_000  # the limit, and at most one more batch


@pytest.mark.parametrize("n", [5, PREFETCH + 5])
def test_a_join_s_repeated_column_names_stay_apart_in_fits(n):
    """``SELECT * FROM a CROSS JOIN b`` with ``ra`` in both: FITS names are case-blind and
    must be unique; the second becomes ``ra_2`` and keeps its own values."""
    fields = [
        ResultField("ra", "double", None, None, "deg", None, None, None),
        ResultField("id", "long", None, None, None, None, None, None),
        ResultField("RA", "double", None, None, "deg", None, None, None),
    ]
    data = [(float(k), k, 1000.0 + k) for k in range(n)]
    out = Rows(fields, iter([data]), {})
    table = Table.read(io.BytesIO(b"".join(stream(out, "fits"))), format="fits")
    assert table.colnames == ["ra", "id", "RA_2"]
    assert list(table["ra"][:2]) == [0.0, 1.0] and list(table["RA_2"][:2]) == [1000.0, 1001.0]
