"""A TAP result written as it is read from the database, in any output format.

A query may return millions of rows. Held in memory they cost gigabytes per request, so
rows come from a server-side cursor in batches and each batch is written out at once:
memory stays flat whatever MAXREC allows. What the first rows show decides the document's
head: a result that ends within the first `PREFETCH` rows is written exactly as a whole
result would be (``QUERY_STATUS`` says ``OVERFLOW`` up front); a longer one starts ``OK``
and, when MAXREC cut it, ends with a second ``QUERY_STATUS=OVERFLOW`` INFO after the table,
as DALI 1.1 §4.4.1 allows. FITS needs its row count before the rows, so a long FITS result
is spooled to a temporary file first (disk, not memory).
"""

from __future__ import annotations

import base64
import csv
import io
import math
import pickle
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from . import result as fmt
from .result import Result, ResultField

PREFETCH = 10_000  # rows read before the head is written
CHUNK = 1 << 20  # bytes handed on at a time


@dataclass
class Rows:
    """A result being read: its fields, its rows in batches (at most MAXREC in all), and
    whether MAXREC cut it (``overflow``, known once the batches are exhausted)."""

    fields: list[ResultField]
    batches: Iterator[list[tuple]]
    infos: dict[str, str] = field(default_factory=dict)
    overflow: bool = False
    nrows: int = 0

    @classmethod
    def of(cls, result: Result) -> Rows:
        return cls(result.fields, iter([result.rows]), result.infos, result.overflow)


def stream(
    rows: Rows, writer: str, inline_errors: bool = True, max_bytes: int | None = None
) -> Iterator[bytes]:
    """The result in format ``writer`` (see `result.resolve_format`), in chunks. A query that
    fails after its first rows were written ends a VOTable with an ERROR status when
    ``inline_errors`` (an answer already under way), else raises (a job's result file).
    With ``max_bytes`` no more rows are read once that much is written: the result ends
    there, marked as overflowing, like a MAXREC cut."""
    head, exhausted = [], False
    n = 0
    for batch in rows.batches:
        head.append(batch)
        n += len(batch)
        if n >= PREFETCH:
            break
    else:
        exhausted = True
    if exhausted:  # all of it is here: the document a whole result makes, overflow up front
        whole = Result(rows.fields, [r for b in head for r in b], rows.overflow, rows.infos)
        data = fmt.write(whole, writer)
        for k in range(0, len(data), CHUNK):
            yield data[k : k + CHUNK]
        return
    sent = [0]
    batches = _limited(_chain(head, rows.batches), rows, sent, max_bytes)
    if writer == "fits":
        yield from _fits(rows, batches)
        return
    if writer in ("votable", "binary2"):
        parts = (_votable if writer == "votable" else _binary2)(rows, batches, inline_errors)
    else:
        parts = (_csv if writer == "csv" else _tsv)(rows, batches)
    yield from _buffered(parts, sent)


def _limited(batches, rows: Rows, sent: list[int], max_bytes: int | None):
    for batch in batches:
        if max_bytes is not None and sent[0] >= max_bytes:
            rows.overflow = True
            return
        yield batch


def _chain(head: list[list[tuple]], rest: Iterator[list[tuple]]) -> Iterator[list[tuple]]:
    yield from head
    yield from rest


def _buffered(parts: Iterator[bytes], sent: list[int]) -> Iterator[bytes]:
    buf = bytearray()
    for part in parts:
        sent[0] += len(part)
        buf += part
        if len(buf) >= CHUNK:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


# ---- VOTable -------------------------------------------------------------------------------


def _head(rows: Rows) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{fmt.VOTABLE_NS}"><RESOURCE type="results">'
        f"{fmt._infos(Result(rows.fields, [], False, rows.infos), 'OK')}"
        f"<TABLE>{fmt._fields(Result(rows.fields, []))}"
    ).encode()


def _tail(rows: Rows, error: str | None = None) -> bytes:
    status = ""
    if error is not None:  # the rows above are all there will be (DALI 1.1 4.4.1)
        status = f'<INFO name="QUERY_STATUS" value="ERROR">{escape(error)}</INFO>'
    elif rows.overflow:
        status = '<INFO name="QUERY_STATUS" value="OVERFLOW"/>'
    return f"</TABLE>{status}</RESOURCE></VOTABLE>\n".encode()


def _votable(rows: Rows, batches, inline_errors: bool) -> Iterator[bytes]:
    yield _head(rows) + b"<DATA><TABLEDATA>"
    try:
        for batch in batches:
            yield "".join(
                "<TR>"
                + "".join(fmt._td(v, f) for v, f in zip(row, rows.fields, strict=True))
                + "</TR>"
                for row in batch
            ).encode()
    except ValueError as exc:  # the query failed after its first rows were sent
        if not inline_errors:
            raise
        yield b"</TABLEDATA></DATA>" + _tail(rows, str(exc))
        return
    yield b"</TABLEDATA></DATA>" + _tail(rows)


def _binary2(rows: Rows, batches, inline_errors: bool) -> Iterator[bytes]:
    yield _head(rows) + b'<DATA><BINARY2><STREAM encoding="base64">'
    nbytes = (len(rows.fields) + 7) // 8
    carry = b""  # base64 works on 3-byte groups: what is left of one batch starts the next
    error = None
    try:
        for batch in batches:
            out = bytearray(carry)
            for row in batch:
                flags = bytearray(nbytes)
                body = []
                for k, (value, f) in enumerate(zip(row, rows.fields, strict=True)):
                    if value is None:
                        flags[k // 8] |= 0x80 >> (k % 8)
                    body.append(fmt._b2_value(value, f))
                out += bytes(flags) + b"".join(body)
            cut = len(out) - len(out) % 3
            carry = bytes(out[cut:])
            yield base64.b64encode(bytes(out[:cut]))
    except ValueError as exc:  # the query failed after its first rows were sent
        if not inline_errors:
            raise
        error = str(exc)
    yield base64.b64encode(carry) + b"</STREAM></BINARY2></DATA>" + _tail(rows, error)


# ---- text ----------------------------------------------------------------------------------


def _csv(rows: Rows, batches) -> Iterator[bytes]:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([f.name for f in rows.fields])
    yield out.getvalue().encode()
    for batch in batches:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        for row in batch:
            w.writerow([fmt._text(v) for v in row])
        yield out.getvalue().encode()


def _tsv(rows: Rows, batches) -> Iterator[bytes]:
    def cell(v) -> str:
        return fmt._text(v).replace("\t", " ").replace("\n", " ")

    yield ("\t".join(f.name for f in rows.fields) + "\n").encode()
    for batch in batches:
        yield "".join("\t".join(cell(v) for v in row) + "\n" for row in batch).encode()


# ---- FITS ----------------------------------------------------------------------------------

# VOTable datatype -> (TFORM letter, struct code, null)
_FITS = {
    "double": ("D", "d", math.nan),
    "float": ("E", "f", math.nan),
    "long": ("K", "q", -(2**63)),
    "int": ("J", "i", -(2**31)),
    "short": ("I", "h", -(2**15)),
    "unsignedByte": ("I", "h", -(2**15)),
    "boolean": ("L", "c", None),
}


def _fits(rows: Rows, batches) -> Iterator[bytes]:
    """A FITS binary table: the rows spooled to a temporary file while the widths of text
    and array columns are found, then header and rows written."""
    from astropy.io import fits

    widths = [1] * len(rows.fields)
    n = 0
    with tempfile.TemporaryFile() as spool:
        for batch in batches:
            for row in batch:
                for k, v in enumerate(row):
                    if isinstance(v, (list, tuple)):
                        widths[k] = max(widths[k], len(v))
                    elif v is not None and rows.fields[k].datatype not in _FITS:
                        widths[k] = max(widths[k], len(fmt._text(v).encode()))
            n += len(batch)
            pickle.dump(batch, spool, protocol=pickle.HIGHEST_PROTOCOL)
        columns, packers = [], []
        names = fmt.unique_names([f.name for f in rows.fields])
        for k, f in enumerate(rows.fields):
            letter, code, null = _FITS.get(f.datatype, ("A", None, None))
            array = bool(f.arraysize) and f.datatype in _FITS and f.datatype != "boolean"
            repeat = widths[k] if (array or letter == "A") else 1
            card = {"name": names[k], "format": f"{repeat}{letter}"}
            if letter in "KJI":
                card["null"] = null
            if f.unit:
                card["unit"] = f.unit
            columns.append(card)
            packers.append(_packer(letter, code, null, repeat, array))
        header = fits.BinTableHDU.from_columns([fits.Column(**c) for c in columns]).header
        header["NAXIS2"] = n
        yield fits.PrimaryHDU().header.tostring().encode("ascii")
        yield header.tostring().encode("ascii")
        spool.seek(0)
        size = 0
        while True:
            try:
                batch = pickle.load(spool)
            except EOFError:
                break
            data = b"".join(
                b"".join(p(v) for p, v in zip(packers, row, strict=True)) for row in batch
            )
            size += len(data)
            yield data
        yield b"\0" * (-size % 2880)


def _packer(letter: str, code: str | None, null, repeat: int, array: bool):
    if letter == "A":

        def text(v) -> bytes:
            return ("" if v is None else fmt._text(v)).encode()[:repeat].ljust(repeat, b" ")

        return text
    if letter == "L":
        return lambda v: b"\0" if v is None else (b"T" if v else b"F")
    one = struct.Struct(">" + code)
    if array:

        def many(v) -> bytes:
            items = [null if x is None else x for x in (v or [])]
            items += [null] * (repeat - len(items))
            return struct.pack(f">{repeat}{code}", *items)

        return many
    return lambda v: one.pack(null if v is None else v)
