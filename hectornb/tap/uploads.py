"""Tables uploaded with a TAP query (TAP 1.1 §4.3): ``UPLOAD=name,URI``.

The URI is ``param:<part>`` (a file sent in the same multipart request) or an http(s) URL
the service fetches. VOTable is the standard's format; CSV (with a header line) is accepted
too. Each table is queried as ``TAP_UPLOAD.<name>`` and exists for that query only.
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..isolate import IsolatedError, MemoryLimitExceeded, TimeLimitExceeded, run_isolated
from .fetch import fetch
from .ingest import IngestError, describe_columns, rows_of
from .service import TapError, Upload

if TYPE_CHECKING:  # loaded with the first table read (the TAP app at rest has none)
    from astropy.table import Table

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def parse_upload_param(values: list[str]) -> list[tuple[str, str]]:
    """(name, URI) pairs from UPLOAD values (``a,param:x;b,http://…``; repeats add up)."""
    out = []
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(";"))):
            name, comma, uri = item.partition(",")
            if not comma or not uri:
                raise TapError(f"UPLOAD {item!r}: expected name,URI")
            if not NAME.match(name):
                raise TapError(
                    f"UPLOAD name {name!r}: use letters, digits and _ (starting with a letter)"
                )
            if not uri.startswith(("param:", "http://", "https://")):
                raise TapError(f"UPLOAD {name}: URI must be param:<part> or http(s)://…")
            out.append((name, uri))
    names = [n.lower() for n, _ in out]
    if len(set(names)) != len(names):
        raise TapError("UPLOAD names must be different")
    return out


@dataclass(frozen=True)
class UploadLimits:
    """How much one uploaded table may be and cost (each a ``HECTORNB_TAP_UPLOAD_*``
    setting)."""

    bytes: int = 20 * 1024 * 1024
    """as sent (compressed or not), bytes"""
    unpacked_bytes: int = 100 * 1024 * 1024
    """after gzip, bzip2 or xz is undone, bytes"""
    columns: int = 500
    rows: int = 1_000_000
    seconds: float = 60.0
    """wall-clock time to fetch and read it, s"""
    memory: int = 1024 * 1024 * 1024
    """memory the reading may take, bytes"""
    hosts: tuple[str, ...] = ()
    """URL uploads: the only hosts/networks fetched from; empty: any public address"""

    @classmethod
    def from_settings(cls, settings) -> UploadLimits:
        return cls(
            settings.tap_upload_limit,
            settings.tap_upload_unpacked_limit,
            settings.tap_upload_columns,
            settings.tap_upload_rows,
            settings.tap_upload_seconds,
            settings.tap_upload_memory,
            settings.tap_upload_hosts,
        )


# No table row is this long; the header is held shorter because astropy's reader takes time
# quadratic in its length, holding the GIL (a 0.5 MB header line: 7 s).
MAX_LINE_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 64 * 1024
_PACKED = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))


def unpack(data: bytes, name: str, limit: int) -> bytes:
    """``data`` with gzip, bzip2 or xz compression undone, refusing more than ``limit``
    bytes unpacked (the cap applies while unpacking: a bomb is never inflated)."""
    if data.startswith(b"PK\x03\x04"):
        raise TapError(
            f"UPLOAD {name}: zip archives are not read; send the table itself "
            "(gzip, bzip2 or xz compression is fine)"
        )
    kind = next((k for magic, k in _PACKED if data.startswith(magic)), None)
    if kind is None:
        return data
    if kind == "gzip":
        unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif kind == "bzip2":
        unpacker = bz2.BZ2Decompressor()
    else:
        unpacker = lzma.LZMADecompressor()
    try:
        out = unpacker.decompress(data, limit + 1)
    except (OSError, ValueError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise TapError(f"UPLOAD {name}: cannot undo its {kind} compression ({exc})") from None
    if len(out) > limit:
        raise TapError(
            f"UPLOAD {name}: more than {limit} bytes once its {kind} compression "
            "is undone (the unpacked upload limit)"
        )
    return out


def check_shape(data: bytes, name: str, limits: UploadLimits) -> None:
    """Refuse a table with too many columns, rows or too long a line, before parsing it."""
    head = data[:512].lstrip().lower()
    if head.startswith((b"<?xml", b"<votable")):
        columns, rows, header = data.count(b"<FIELD") + data.count(b"<field"), None, b""
    else:
        newlines = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        ends = np.append(newlines, len(data))
        header = data[: ends[0]]
        columns = header.count(b",") + 1
        rows = len(newlines) - (1 if data.endswith(b"\n") else 0)
    if columns > limits.columns:
        raise TapError(
            f"UPLOAD {name}: {columns} columns; this service takes at most {limits.columns}"
        )
    if rows is None:
        return
    if len(header) > MAX_HEADER_BYTES:
        raise TapError(
            f"UPLOAD {name}: the header line (the column names) is longer "
            f"than {MAX_HEADER_BYTES} bytes"
        )
    lengths = np.diff(ends, prepend=-1) - 1
    if lengths.max() > MAX_LINE_BYTES:
        line = int(np.argmax(lengths > MAX_LINE_BYTES)) + 1
        raise TapError(f"UPLOAD {name}: line {line} is longer than {MAX_LINE_BYTES} bytes")
    if rows > limits.rows:
        raise TapError(f"UPLOAD {name}: {rows} rows; this service takes at most {limits.rows}")


def table_from_bytes(data: bytes, name: str) -> Table:
    """An astropy Table from VOTable or CSV bytes."""
    from astropy.table import Table

    head = data[:512].lstrip().lower()
    try:
        if head.startswith(b"<?xml") or head.startswith(b"<votable"):
            from astropy.io.votable import parse_single_table

            votable = parse_single_table(io.BytesIO(data), verify="ignore")
            table = votable.to_table(use_names_over_ids=True)
            for f, name in zip(votable.fields, table.colnames, strict=True):
                if f.xtype:  # DALI types (timestamp, point, …) survive the round trip
                    table[name].meta["xtype"] = f.xtype
            return table
        return Table.read(io.BytesIO(data), format="ascii.csv")
    except MemoryError:
        raise
    except Exception as exc:  # astropy raises many kinds for a bad file
        raise TapError(f"UPLOAD {name}: not a VOTable or CSV table ({exc})") from None


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "{" + ",".join(_copy_value(x) if x is not None else "NULL" for x in v) + "}"
    v = str(v)
    if "\x00" in v:
        raise ValueError("a NUL character")
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(rows) -> bytes:
    """Rows in PostgreSQL's COPY text format (one bytes object: cheap to hand between
    processes, unlike millions of tuples)."""
    return "".join("\t".join(map(_copy_value, row)) + "\n" for row in rows).encode()


def upload_from_table(table: Table, name: str, limits: UploadLimits | None = None) -> Upload:
    limits = limits or UploadLimits()
    if len(table.colnames) > limits.columns or len(table) > limits.rows:
        raise TapError(
            f"UPLOAD {name}: {len(table.colnames)} columns and {len(table)} rows; "
            f"this service takes at most {limits.columns} columns and "
            f"{limits.rows} rows"
        )
    try:
        columns, pg_types, sources = describe_columns(table, {}, keep_names=True)
        data = copy_text(rows_of(table, sources))
    except IngestError as exc:
        raise TapError(f"UPLOAD {name}: {exc}") from None
    except ValueError as exc:
        raise TapError(f"UPLOAD {name}: a value cannot be stored ({exc})") from None
    return Upload(name, columns, pg_types, data, len(table))


def _read(name: str, source: dict, limits: UploadLimits) -> Upload:
    if "bytes" in source:
        data = source["bytes"]
    elif "path" in source:
        data = Path(source["path"]).read_bytes()
    else:
        data = fetch(source["url"], limits.bytes, limits.hosts)
    if len(data) > limits.bytes:
        raise TapError(f"UPLOAD {name}: larger than the upload limit of {limits.bytes} bytes")
    data = unpack(data, name, limits.unpacked_bytes)
    check_shape(data, name, limits)
    return upload_from_table(table_from_bytes(data, name), name, limits)


def read_upload(name: str, source: dict, limits: UploadLimits) -> Upload:
    """An `Upload` from ``source`` (``{"bytes": …}``, ``{"path": …}`` or ``{"url": …}``),
    fetched and read in a child process within ``limits``."""
    try:
        return run_isolated(
            _read,
            name,
            source,
            limits,
            seconds=limits.seconds,
            memory=limits.memory,
            preload=(__name__, "astropy.table"),
        )
    except TimeLimitExceeded:
        raise TapError(
            f"UPLOAD {name}: reading it took longer than {limits.seconds:g} s "
            "(the upload time limit)"
        ) from None
    except MemoryLimitExceeded:
        raise TapError(
            f"UPLOAD {name}: reading it needed more than {limits.memory} bytes "
            "of memory (the upload memory limit)"
        ) from None
    except IsolatedError as exc:
        raise TapError(f"UPLOAD {name}: could not be read ({exc})") from None
