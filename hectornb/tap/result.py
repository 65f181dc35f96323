"""A TAP result and the formats it is written in (DALI 1.1 §4.4, VOTable 1.4).

VOTable (TABLEDATA, the default, and BINARY2), CSV (``text/csv;header=present``), TSV and
FITS. The VOTable carries ``QUERY_STATUS`` before the table and, when MAXREC cut the
result, a trailing ``OVERFLOW``; an error is a VOTable with ``QUERY_STATUS=ERROR``.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import math
import struct
from dataclasses import dataclass, field, replace
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ..errors import Invalid
from .tableset import TapColumn, unique_identifier

VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"


#: a result column carries what TAP_SCHEMA says of a column (name, VOTable datatype, …)
ResultField = TapColumn


@dataclass
class Result:
    fields: list[ResultField]
    rows: list[tuple]
    overflow: bool = False
    infos: dict[str, str] = field(default_factory=dict)  # QUERY, request time, …


# media type -> (format key, Content-Type sent back)
FORMATS = {
    "votable": ("votable", "application/x-votable+xml"),
    "application/x-votable+xml": ("votable", "application/x-votable+xml"),
    "text/xml": ("votable", "text/xml"),
    "votable/td": ("votable", "application/x-votable+xml;serialization=TABLEDATA"),
    "application/x-votable+xml;serialization=tabledata": (
        "votable",
        "application/x-votable+xml;serialization=TABLEDATA",
    ),
    "votable/b2": ("binary2", "application/x-votable+xml;serialization=BINARY2"),
    "binary2": ("binary2", "application/x-votable+xml;serialization=BINARY2"),
    "application/x-votable+xml;serialization=binary2": (
        "binary2",
        "application/x-votable+xml;serialization=BINARY2",
    ),
    "csv": ("csv", "text/csv;header=present"),
    "text/csv": ("csv", "text/csv;header=present"),
    "text/csv;header=present": ("csv", "text/csv;header=present"),
    "tsv": ("tsv", "text/tab-separated-values"),
    "text/tab-separated-values": ("tsv", "text/tab-separated-values"),
    "fits": ("fits", "application/fits"),
    "application/fits": ("fits", "application/fits"),
}

#: what the capabilities advertise: (MIME type, short alias)
OUTPUT_FORMATS = [
    ("application/x-votable+xml", "votable"),
    ("application/x-votable+xml;serialization=BINARY2", "votable/b2"),
    ("text/csv;header=present", "csv"),
    ("text/tab-separated-values", "tsv"),
    ("application/fits", "fits"),
]


def resolve_format(value: str | None) -> tuple[str, str]:
    """(writer, Content-Type) for a RESPONSEFORMAT value; ValueError if unknown."""
    key = (value or "votable").strip().lower().replace(" ", "")
    if key not in FORMATS:
        raise Invalid(
            f"RESPONSEFORMAT {value!r} is not supported; use one of "
            + ", ".join(a for _, a in OUTPUT_FORMATS)
        )
    return FORMATS[key]


def write(result: Result, writer: str) -> bytes:
    return {
        "votable": votable,
        "binary2": votable_binary2,
        "csv": write_csv,
        "tsv": write_tsv,
        "fits": write_fits,
    }[writer](result)


# ---- VOTable -------------------------------------------------------------------------------


def _attrs(**kw) -> str:
    return "".join(f" {k}={quoteattr(str(v))}" for k, v in kw.items() if v is not None)


def _infos(result: Result, status: str) -> str:
    out = [f'<INFO name="QUERY_STATUS" value="{status}"/>']
    for k, v in result.infos.items():
        out.append(f"<INFO{_attrs(name=k, value=v)}/>")
    return "".join(out)


def _fields(result: Result) -> str:
    out, ids = [], set()
    for f in result.fields:
        fid = unique_identifier(f.name, ids)
        arraysize = f.arraysize
        if f.datatype == "char" and arraysize is None:
            arraysize = "*"
        attrs = _attrs(
            name=f.name,
            ID=fid,
            datatype=f.datatype,
            arraysize=arraysize,
            xtype=f.xtype,
            unit=f.unit,
            ucd=f.ucd,
            utype=f.utype,
        )
        if f.description:
            out.append(f"<FIELD{attrs}><DESCRIPTION>{escape(f.description)}</DESCRIPTION></FIELD>")
        else:
            out.append(f"<FIELD{attrs}/>")
    return "".join(out)


def _td(value, f: ResultField) -> str:
    if value is None:
        return "<TD/>"
    if isinstance(value, (list, tuple)):
        return "<TD>" + " ".join(_scalar_text(v, f) for v in value) + "</TD>"
    return "<TD>" + escape(_scalar_text(value, f)) + "</TD>"


def _scalar_text(value, f: ResultField) -> str:
    if value is None:
        return "NaN"
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return repr(value)
    return str(value)


def _document(result: Result, table_body: str, status: str) -> bytes:
    # the whole result is known before writing: the first INFO can say OVERFLOW (DALI 4.4.1)
    status = "OVERFLOW" if result.overflow else status
    trailer = ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}">'
        f'<RESOURCE type="results">{_infos(result, status)}'
        f"<TABLE>{_fields(result)}{table_body}</TABLE>{trailer}</RESOURCE></VOTABLE>\n"
    ).encode()


def votable(result: Result) -> bytes:
    """The result as a VOTable with TABLEDATA serialization."""
    rows = "".join(
        "<TR>" + "".join(_td(v, f) for v, f in zip(row, result.fields, strict=True)) + "</TR>"
        for row in result.rows
    )
    return _document(result, f"<DATA><TABLEDATA>{rows}</TABLEDATA></DATA>", "OK")


_B2 = {
    "boolean": "c",
    "short": ">h",
    "int": ">i",
    "long": ">q",
    "float": ">f",
    "double": ">d",
    "unsignedByte": ">B",
}
_NULL = {
    "short": 0,
    "int": 0,
    "long": 0,
    "unsignedByte": 0,
    "float": float("nan"),
    "double": float("nan"),
}


def _b2_value(value, f: ResultField) -> bytes:
    dt = f.datatype
    variable = f.arraysize is not None and f.arraysize.endswith("*")
    if dt in ("char", "unicodeChar"):
        text = "" if value is None else str(value)
        data = text.encode("utf-8") if dt == "char" else text.encode("utf-16-be")
        if variable:
            n = len(data) if dt == "char" else len(data) // 2
            return struct.pack(">i", n) + data
        size = int(f.arraysize or 1) * (1 if dt == "char" else 2)
        return data[:size].ljust(size, b"\0")
    if dt == "boolean":
        fmt_value = b"?" if value is None else (b"T" if value else b"F")
        return fmt_value
    fmt = _B2[dt]
    if f.arraysize is not None:
        items = list(value or [])
        body = b"".join(struct.pack(fmt, _NULL[dt] if v is None else v) for v in items)
        if variable:
            return struct.pack(">i", len(items)) + body
        n = int(f.arraysize.split("x")[0]) if f.arraysize[0].isdigit() else len(items)
        pad = struct.pack(fmt, _NULL[dt]) * max(0, n - len(items))
        return body + pad
    return struct.pack(fmt, _NULL[dt] if value is None else value)


def votable_binary2(result: Result) -> bytes:
    """The result as a VOTable with BINARY2 serialization (null flags per row)."""
    nbytes = (len(result.fields) + 7) // 8
    chunks = []
    for row in result.rows:
        flags = bytearray(nbytes)
        body = []
        for k, (value, f) in enumerate(zip(row, result.fields, strict=True)):
            if value is None:
                flags[k // 8] |= 0x80 >> (k % 8)
            body.append(_b2_value(value, f))
        chunks.append(bytes(flags) + b"".join(body))
    stream = base64.b64encode(b"".join(chunks)).decode("ascii")
    return _document(
        result, f'<DATA><BINARY2><STREAM encoding="base64">{stream}</STREAM></BINARY2></DATA>', "OK"
    )


def error_document(message: str, infos: dict[str, str] | None = None) -> bytes:
    """A DALI error document: a VOTable whose QUERY_STATUS is ERROR with the message."""
    extra = "".join(f"<INFO{_attrs(name=k, value=v)}/>" for k, v in (infos or {}).items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VOTABLE version="1.4" xmlns="{VOTABLE_NS}"><RESOURCE type="results">'
        f'<INFO name="QUERY_STATUS" value="ERROR">{escape(message)}</INFO>{extra}'
        "</RESOURCE></VOTABLE>\n"
    ).encode()


# ---- text and FITS -------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_csv(result: Result) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([f.name for f in result.fields])
    for row in result.rows:
        w.writerow([_text(v) for v in row])
    return out.getvalue().encode("utf-8")


def write_tsv(result: Result) -> bytes:
    def cell(v) -> str:
        return _text(v).replace("\t", " ").replace("\n", " ")

    lines = ["\t".join(f.name for f in result.fields)]
    lines += ["\t".join(cell(v) for v in row) for row in result.rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique, as FITS (case-blind) needs: a join's second ``ra`` becomes
    ``ra_2`` instead of overwriting the first."""
    used: set[str] = set()
    out = []
    for name in names:
        candidate, k = name, 2
        while candidate.lower() in used:
            candidate, k = f"{name}_{k}", k + 1
        used.add(candidate.lower())
        out.append(candidate)
    return out


def write_fits(result: Result) -> bytes:
    """A binary-table FITS file; NULLs are NaN (floats) or masked (others)."""
    from astropy.table import MaskedColumn, Table

    table = Table()
    names = unique_names([f.name for f in result.fields])
    for k, (f, name) in enumerate(zip(result.fields, names, strict=True)):
        f = replace(f, name=name)
        values = [row[k] for row in result.rows]
        mask = [v is None for v in values]
        if f.datatype in ("double", "float"):
            if f.arraysize:
                width = max((len(v) for v in values if v is not None), default=0)
                data = np.full((len(values), width), np.nan)
                for i, v in enumerate(values):
                    if v is not None:
                        data[i, : len(v)] = [np.nan if x is None else x for x in v]
                table[f.name] = data
            else:
                table[f.name] = np.array([np.nan if v is None else v for v in values], float)
        elif f.datatype in ("short", "int", "long", "unsignedByte"):
            table[f.name] = MaskedColumn(
                [0 if v is None else v for v in values], mask=mask, dtype=np.int64
            )
        elif f.datatype == "boolean":
            table[f.name] = MaskedColumn([bool(v) for v in values], mask=mask)
        else:
            table[f.name] = MaskedColumn(
                ["" if v is None else _text(v) for v in values], mask=mask, dtype=str
            )
        if f.unit:
            with contextlib.suppress(ValueError):  # a unit FITS cannot carry: VOTable only
                table[f.name].unit = f.unit
    out = io.BytesIO()
    table.write(out, format="fits")
    return out.getvalue()
