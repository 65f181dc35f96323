"""The platform's own tables published through TAP: target lists with their BADCLASS
classifications (Classify) and the observing log (Obslog), current records only.

They are for signed-in users (the apps show them to any signed-in user too): a query
without an identity does not see them. Column types come from the views themselves
(migration ``0007``); units, UCDs and descriptions from here.
"""

from __future__ import annotations

import psycopg

from .publish import view_columns, write_table
from .tableset import TapColumn, TapTable

_RA = ("deg", "pos.eq.ra;meta.main", "Right ascension (J2000)")
_DEC = ("deg", "pos.eq.dec;meta.main", "Declination (J2000)")
_VERSION = {
    "version": (None, "meta.version", "Version of the record (every edit makes one)"),
    "author": (None, "meta.curation", "Who wrote this version"),
    "modified": (None, "time.processing", "When this version was written (UTC)"),
}

#: TAP name -> (view, schema description, table description, {column: (unit, UCD, text)}):
#: Classify's tables. The observing log's come from its collections (`_obslog_tables`).
_CLASSIFY_TABLES = {
    "hectornb.target_lists": (
        "target_lists",
        "The Classify app's target lists.",
        "Target lists imported for vetting with BADCLASS flags",
        {
            "list_name": (None, "meta.id", "Name of the list"),
            "owner": (None, "meta.curation", "Who imported it"),
            "source_filename": (None, "meta.file", "The imported file"),
            "n_targets": (None, "meta.number", "Number of targets"),
            "created_at": (None, "time.processing", "When it was imported (UTC)"),
        },
    ),
    "hectornb.targets": (
        "targets",
        None,
        "Targets of every list with their current BADCLASS (the latest classification by anyone)",
        {
            "list_name": (None, "meta.id", "The list"),
            "target": (None, "meta.id;meta.main", "Target name"),
            "ra": _RA,
            "dec": _DEC,
            "badclass": (None, "meta.code.qual", "BADCLASS 0-8, empty if unclassified"),
            "classified_by": (None, "meta.curation", "Who set the current class"),
            "classified_at": (None, "time.processing", "When (UTC)"),
            "n_classifiers": (None, "meta.number", "How many people classified it"),
            "disagree": (None, "meta.code", "Classifiers disagree"),
        },
    ),
    "hectornb.classifications": (
        "classifications",
        None,
        "Every BADCLASS classification (append-only history)",
        {
            "list_name": (None, "meta.id", "The list"),
            "target": (None, "meta.id", "Target name"),
            "username": (None, "meta.curation", "Who classified"),
            "badclass": (None, "meta.code.qual", "The class set, empty when cleared"),
            "previous": (None, "meta.code.qual", "This user's class before"),
            "classified_at": (None, "time.processing", "When (UTC)"),
        },
    ),
}

#: Columns the views name differently from the collection's field (ADQL reserves DATE, TIME).
_VIEW_NAMES = {("tiles", "date"): "tile_date", ("logs", "time"): "log_time"}
#: Columns the views add to a collection's fields.
_VIEW_EXTRAS = {("tiles", "members"): (None, "meta.id", "Target and star IDs of its bundles")}


def _vo_unit(unit: str) -> str | None:
    """An astropy unit in IVOA VOUnit form (``dex(Msun)`` is ``log(solMass)``)."""
    if not unit:
        return None
    import astropy.units as u

    parsed = u.Unit(unit)
    physical = getattr(parsed, "physical_unit", None)
    if physical is not None:  # a logarithmic unit: dex is log10
        return f"log({physical.to_string('vounit')})"
    return parsed.to_string("vounit")


def _obslog_tables() -> dict:
    """The observing log's published views, described by its collections' fields."""
    from ..obslog.schema import COLLECTIONS

    tables = {}
    for k, c in enumerate(COLLECTIONS.values()):
        meta = {
            _VIEW_NAMES.get((c.name, f.name), f.name): (
                _vo_unit(f.unit),
                f.ucd or None,
                f.description,
            )
            for f in c.fields
        }
        meta.update({col: v for (name, col), v in _VIEW_EXTRAS.items() if name == c.name})
        schema_text = "The observing log of the Hector survey." if k == 0 else None
        tables[f"obslog.{c.name}"] = (
            c.table,
            schema_text,
            c.description[:1].upper() + c.description[1:],
            {**meta, **_VERSION},
        )
    return tables


TABLES = {**_CLASSIFY_TABLES, **_obslog_tables()}

PG_SCHEMA = "hectornb_pub"


def _columns(conn: psycopg.Connection, view: str, meta: dict) -> list[TapColumn]:
    out = []
    for name, datatype, arraysize, xtype in view_columns(conn, PG_SCHEMA, view):
        unit, ucd, description = meta.get(name, (None, None, None))
        out.append(
            TapColumn(
                name, datatype, arraysize, xtype, unit, ucd, None, description, principal=True
            )
        )
    return out


def publish_platform_tables(conn: psycopg.Connection) -> None:
    """Describe the platform's views in TAP_SCHEMA (for signed-in users)."""
    for name, (view, schema_text, text, meta) in TABLES.items():
        schema = name.split(".")[0]
        table = TapTable(name, schema, PG_SCHEMA, view, _columns(conn, view, meta), text)
        write_table(
            conn, table, public=False, owner=None, by="hectornb", schema_description=schema_text
        )
