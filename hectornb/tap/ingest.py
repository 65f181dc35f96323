"""Ingest a table (VOTable, FITS, CSV, Parquet, or an astropy Table) and publish it via TAP.

Units, UCDs and descriptions come from the file (VOTable FIELDs, FITS TUNITn, astropy
column metadata) and may be set or overridden by a YAML file::

    description: Bright stars for the Hector tiling
    columns:
      ra: {unit: deg, ucd: pos.eq.ra;meta.main, description: Right ascension (ICRS)}

A table with a main position (UCDs ``pos.eq.ra;meta.main``/``pos.eq.dec;meta.main``, else
columns called ra and dec) gets a b-tree on (dec, ra), which the ADQL translator's cones
and cross-matches use. Re-ingesting a name replaces the table in one transaction: queries
see the old rows or the new ones, never a mix or nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..db import connect
from ..errors import Invalid
from .publish import check_name, write_table
from .tableset import TapColumn, TapTable, quote_identifier, unique_identifier

if TYPE_CHECKING:  # loaded with the first table read
    from astropy.table import Table

# numpy kind/size -> (PostgreSQL type, VOTable datatype)
_TYPES = {
    ("b", 1): ("boolean", "boolean"),
    ("i", 1): ("smallint", "short"),
    ("i", 2): ("smallint", "short"),
    ("i", 4): ("integer", "int"),
    ("i", 8): ("bigint", "long"),
    ("u", 1): ("smallint", "short"),
    ("u", 2): ("integer", "int"),
    ("u", 4): ("bigint", "long"),
    ("u", 8): ("bigint", "long"),
    ("f", 2): ("real", "float"),
    ("f", 4): ("real", "float"),
    ("f", 8): ("double precision", "double"),
}


class IngestError(Invalid):
    """A file that cannot be published, with the reason."""


def read_table(path: str | Path) -> Table:
    """An astropy Table from a VOTable, FITS, CSV/TSV/ECSV or Parquet file."""
    from astropy.table import Table

    path = Path(path)
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".csv", ".csv.gz")):
            return Table.read(path, format="ascii.csv")
        if suffix.endswith((".tsv", ".tsv.gz")):
            return Table.read(path, format="ascii.tab")
        if suffix.endswith(".ecsv"):
            return Table.read(path, format="ascii.ecsv")
        if suffix.endswith((".vot", ".xml", ".votable")):
            return Table.read(path, format="votable")
        return Table.read(path)
    except FileNotFoundError:
        raise IngestError(f"{path}: no such file") from None
    except Exception as exc:  # astropy raises many kinds for a bad file
        raise IngestError(f"{path}: cannot read it as a table ({exc})") from None


def describe_columns(
    table: Table,
    meta: dict,
    keep_names: bool = False,
) -> tuple[list[TapColumn], list[str], list[str]]:
    """(TAP columns, PostgreSQL column types, source column names). Names become lower-case
    regular identifiers unless ``keep_names`` (uploads: delimited identifiers must work)."""
    columns, pg_types, sources, used = [], [], [], set()
    overrides = {k.lower(): v for k, v in (meta.get("columns") or {}).items()}
    for name in table.colnames:
        col = table[name]
        dt = col.dtype
        arraysize = None
        if dt.kind in ("U", "S", "O"):
            pg, votype, arraysize = "text", "char", "*"
        elif (dt.kind, dt.itemsize) in _TYPES:
            pg, votype = _TYPES[(dt.kind, dt.itemsize)]
        else:
            raise IngestError(f"column {name!r}: type {dt} cannot be published")
        if col.ndim > 1:
            if dt.kind not in "iuf":
                raise IngestError(f"column {name!r}: arrays of {dt} cannot be published")
            pg += "[]"
            arraysize = "x".join(str(s) for s in col.shape[1:])
        if keep_names and name not in used:
            cname = name
            used.add(name)
        else:
            cname = unique_identifier(name, used, lower=True)
        over = overrides.get(name.lower(), overrides.get(cname, {})) or {}
        unit = over.get("unit", str(col.unit) if col.unit is not None else None)
        columns.append(
            TapColumn(
                cname,
                votype,
                arraysize,
                over.get("xtype", col.meta.get("xtype")),
                unit or None,
                over.get("ucd", col.meta.get("ucd")),
                over.get("utype", col.meta.get("utype")),
                over.get("description", col.description or None),
                principal=bool(over.get("principal", True)),
            )
        )
        pg_types.append(pg)
        sources.append(name)
    return columns, pg_types, sources


def rows_of(table: Table, sources: list[str]):
    """Rows as Python values, masked and NaN-free-of-meaning entries as NULL."""
    cols = []
    for name in sources:
        col = table[name]
        mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)))
        if mask.shape != (len(col),):
            mask = mask.reshape(len(col), -1).all(axis=1)
        data = np.asarray(col)
        if data.dtype.kind == "f":  # NaN is "no value" in catalogues: NULL, so SQL skips it
            nan = np.isnan(data)
            mask = mask | (nan if nan.ndim == 1 else nan.all(axis=tuple(range(1, nan.ndim))))
        if data.dtype.kind == "S":
            values = [v.decode("utf-8", "replace") for v in data.tolist()]
        else:
            values = data.tolist()
        cols.append([None if m else v for v, m in zip(values, mask.tolist(), strict=True)])
    return zip(*cols, strict=True)


def ingest_table(
    table: Table,
    name: str,
    *,
    description: str | None = None,
    meta: dict | None = None,
    public: bool = True,
    owner: str | None = None,
    by: str | None = None,
    schema_description: str | None = None,
) -> TapTable:
    """Publish an astropy Table as TAP table ``name`` (``schema.table``), replacing an
    earlier table of that name atomically. Returns what was published."""
    schema, tname = check_name(name)
    meta = dict(meta or {})
    if len(table.colnames) == 0:
        raise IngestError("the table has no columns")
    columns, pg_types, sources = describe_columns(table, meta)
    description = description or meta.get("description") or table.meta.get("description")
    tap = TapTable(f"{schema}.{tname}", schema, schema, tname, columns, description)
    position = tap.position()
    if position is not None:
        tap.columns = [replace(c, indexed=c.name in position) for c in tap.columns]
    staging = f"{tname}__new_{secrets.token_hex(4)}"
    qs, qstage, qfinal = (quote_identifier(x) for x in (schema, staging, tname))
    col_sql = ", ".join(
        f"{quote_identifier(c.name)} {t}" for c, t in zip(columns, pg_types, strict=True)
    )
    names_sql = ", ".join(quote_identifier(c.name) for c in columns)
    with connect(unlimited=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qs}")
        conn.execute(f"CREATE TABLE {qs}.{qstage} ({col_sql})")
        with conn.cursor() as cur, cur.copy(f"COPY {qs}.{qstage} ({names_sql}) FROM STDIN") as cp:
            for row in rows_of(table, sources):
                cp.write_row(row)
        if position is not None:
            ra, dec = (quote_identifier(c) for c in position)
            conn.execute(
                f"CREATE INDEX {quote_identifier(staging + '_pos')} ON {qs}.{qstage} ({dec}, {ra})"
            )
        conn.execute(f"ANALYZE {qs}.{qstage}")
    # the swap: one short transaction, so readers see the old table or the new one
    with connect() as conn:
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (tap.name,))
        conn.execute(f"DROP TABLE IF EXISTS {qs}.{qfinal}")
        conn.execute(f"ALTER TABLE {qs}.{qstage} RENAME TO {qfinal}")
        if position is not None:
            conn.execute(
                f"ALTER INDEX {qs}.{quote_identifier(staging + '_pos')} "
                f"RENAME TO {quote_identifier(tname + '_pos')}"
            )
        write_table(
            conn, tap, public=public, owner=owner, by=by, schema_description=schema_description
        )
    return tap


def ingest_file(
    path: str | Path,
    name: str,
    *,
    description: str | None = None,
    meta_path: str | Path | None = None,
    **kwargs,
) -> TapTable:
    """`ingest_table` for a file, with an optional YAML metadata file."""
    check_name(name)  # before reading what may be a large file
    meta = {}
    if meta_path is not None:
        import yaml

        try:
            meta = yaml.safe_load(Path(meta_path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise IngestError(f"{meta_path}: {exc}") from None
        if not isinstance(meta, dict):
            raise IngestError(f"{meta_path}: expected a mapping with description/columns")
    return ingest_table(read_table(path), name, description=description, meta=meta, **kwargs)
