"""Tables uploaded with a TAP query (TAP 1.1 §4.3): ``UPLOAD=name,URI``.

The URI is ``param:<part>`` (a file sent in the same multipart request) or an http(s) URL
the service fetches. VOTable is the standard's format; CSV (with a header line) is accepted
too. Each table is queried as ``TAP_UPLOAD.<name>`` and exists for that query only.
"""

from __future__ import annotations

import io
import re
import urllib.request
from pathlib import Path

from astropy.table import Table

from .ingest import IngestError, describe_columns, rows_of
from .service import TapError, Upload

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
                raise TapError(f"UPLOAD name {name!r}: use letters, digits and _ "
                               "(starting with a letter)")  # fmt: skip
            if not uri.startswith(("param:", "http://", "https://")):
                raise TapError(f"UPLOAD {name}: URI must be param:<part> or http(s)://…")
            out.append((name, uri))
    names = [n.lower() for n, _ in out]
    if len(set(names)) != len(names):
        raise TapError("UPLOAD names must be different")
    return out


def fetch(url: str, limit: int) -> bytes:
    """The bytes at ``url``, refusing more than ``limit``."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            data = r.read(limit + 1)
    except OSError as exc:
        raise TapError(f"UPLOAD {url}: cannot fetch it ({exc})") from None
    if len(data) > limit:
        raise TapError(f"UPLOAD {url}: larger than the upload limit of {limit} bytes")
    return data


def table_from_bytes(data: bytes, name: str) -> Table:
    """An astropy Table from VOTable or CSV bytes."""
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
    except Exception as exc:  # astropy raises many kinds for a bad file
        raise TapError(f"UPLOAD {name}: not a VOTable or CSV table ({exc})") from None


def upload_from_table(table: Table, name: str) -> Upload:
    try:
        columns, pg_types, sources = describe_columns(table, {}, keep_names=True)
    except IngestError as exc:
        raise TapError(f"UPLOAD {name}: {exc}") from None
    return Upload(name, columns, pg_types, list(rows_of(table, sources)))


def read_upload(name: str, source: dict, limit: int) -> Upload:
    """An `Upload` from ``source``: ``{"bytes": …}``, ``{"path": …}`` or ``{"url": …}``."""
    if "bytes" in source:
        data = source["bytes"]
    elif "path" in source:
        data = Path(source["path"]).read_bytes()
    else:
        data = fetch(source["url"], limit)
    if len(data) > limit:
        raise TapError(f"UPLOAD {name}: larger than the upload limit of {limit} bytes")
    return upload_from_table(table_from_bytes(data, name), name)
