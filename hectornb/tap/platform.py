"""The platform's own tables published through TAP: target lists with their BADCLASS
classifications (Classify) and the observing log (Obslog), current records only.

They are for signed-in users (the apps show them to any signed-in user too): a query
without an identity does not see them. Column types come from the views themselves
(migration ``0007``); units, UCDs and descriptions from here.
"""

from __future__ import annotations

import psycopg

from .catalog import TapColumn, TapTable, votable_type
from .publish import write_table

_RA = ("deg", "pos.eq.ra;meta.main", "Right ascension (J2000)")
_DEC = ("deg", "pos.eq.dec;meta.main", "Declination (J2000)")
_VERSION = {
    "version": (None, "meta.version", "Version of the record (every edit makes one)"),
    "author": (None, "meta.curation", "Who wrote this version"),
    "modified": (None, "time.processing", "When this version was written (UTC)"),
}

#: TAP name -> (view, schema description, table description, {column: (unit, UCD, text)})
TABLES = {
    "hectornb.target_lists": ("target_lists", "The Classify app's target lists.",
        "Target lists imported for vetting with BADCLASS flags", {
            "list_name": (None, "meta.id", "Name of the list"),
            "owner": (None, "meta.curation", "Who imported it"),
            "source_filename": (None, "meta.file", "The imported file"),
            "n_targets": (None, "meta.number", "Number of targets"),
            "created_at": (None, "time.processing", "When it was imported (UTC)")}),
    "hectornb.targets": ("targets", None, "Targets of every list with their current "
        "BADCLASS (the latest classification by anyone)", {
            "list_name": (None, "meta.id", "The list"),
            "target": (None, "meta.id;meta.main", "Target name"),
            "ra": _RA, "dec": _DEC,
            "badclass": (None, "meta.code.qual", "BADCLASS 0-8, empty if unclassified"),
            "classified_by": (None, "meta.curation", "Who set the current class"),
            "classified_at": (None, "time.processing", "When (UTC)"),
            "n_classifiers": (None, "meta.number", "How many people classified it"),
            "disagree": (None, "meta.code", "Classifiers disagree")}),
    "hectornb.classifications": ("classifications", None, "Every BADCLASS classification "
        "(append-only history)", {
            "list_name": (None, "meta.id", "The list"),
            "target": (None, "meta.id", "Target name"),
            "username": (None, "meta.curation", "Who classified"),
            "badclass": (None, "meta.code.qual", "The class set, empty when cleared"),
            "previous": (None, "meta.code.qual", "This user's class before"),
            "classified_at": (None, "time.processing", "When (UTC)")}),
    "obslog.targets": ("obslog_targets", "The observing log of the Hector survey.",
        "Hector targets (galaxies) of the observing log", {
            "galaxy_id": (None, "meta.id;meta.main", "Catalogue ID of the galaxy"),
            "ra": _RA, "dec": _DEC, "z": (None, "src.redshift", "Redshift"),
            "g_mag": ("mag", "phot.mag;em.opt.B", "g magnitude"),
            "r_mag": ("mag", "phot.mag;em.opt.R", "r magnitude"),
            "re": ("arcsec", "phys.angSize", "Effective radius"),
            "mstar": (None, "phys.mass", "log10 stellar mass (solMass)"), **_VERSION}),
    "obslog.stars": ("obslog_stars", None, "Standard and guide stars of the tiles", {
            "star_id": (None, "meta.id;meta.main", "Star ID"), "ra": _RA, "dec": _DEC,
            "magnitude": ("mag", "phot.mag", "Magnitude"),
            "kind": (None, "meta.code.class", "standard or guide"), **_VERSION}),
    "obslog.tiles": ("obslog_tiles", None, "Hector tiles: a field with its 21 hexabundles", {
            "tile_id": (None, "meta.id;meta.main", "Tile ID (T-<id>-<ra>-<dec>-<date>)"),
            "ra": _RA, "dec": _DEC, "tile_date": (None, "time.epoch", "Planned date"),
            "qc_pass": (None, "meta.code.qual", "Passed quality control"),
            "plate_id": (None, "meta.id", "Plate"), "label": (None, "meta.note", "Label"),
            "members": (None, "meta.id", "Target and star IDs of its bundles"),
            "bundles": (None, "meta.note", "Hexabundle A-U assignments (JSON)"),
            **_VERSION}),
    "obslog.runs": ("obslog_runs", None, "Observing runs", {
            "run_id": (None, "meta.id;meta.main", "Run ID"),
            "start_date": (None, "time.start", "First night"),
            "end_date": (None, "time.end", "Last night"),
            "observers": (None, "meta.curation", "Observers"),
            "instrument": (None, "instr.setup", "Instrument"),
            "setup": (None, "instr.setup", "Set-up"), "comment": (None, "meta.note", "Comment"),
            **_VERSION}),
    "obslog.logs": ("obslog_logs", None, "The night log: one entry per exposure or event", {
            "log_id": (None, "meta.id;meta.main", "Entry ID"),
            "night": (None, "time.epoch", "Night (local date of its start)"),
            "log_time": (None, "time.epoch", "Time of the entry (UTC)"),
            "run_id": (None, "meta.id", "Run"), "tile_id": (None, "meta.id", "Tile"),
            "frames": (None, "meta.file", "Raw frames (archive file names)"),
            "exposure": ("s", "time.duration;obs.exposure", "Exposure time"),
            "seeing": ("arcsec", "instr.obsty.seeing", "Seeing FWHM"),
            "transparency": (None, "meta.note", "Transparency"),
            "weather": (None, "meta.note", "Weather"),
            "time_lost": ("h", "time.duration", "Time lost"),
            "lost_reason": (None, "meta.note", "Why time was lost"),
            "qc": (None, "meta.code.qual", "Quality control"),
            "comment": (None, "meta.note", "Comment"), "tags": (None, "meta.note", "Tags"),
            **_VERSION}),
}  # fmt: skip

PG_SCHEMA = "hectornb_pub"


def _columns(conn: psycopg.Connection, view: str, meta: dict) -> list[TapColumn]:
    rows = conn.execute(
        "SELECT a.attname AS name, a.atttypid::integer AS oid "
        "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum", (f"{PG_SCHEMA}.{view}",),
    ).fetchall()  # fmt: skip
    out = []
    for r in rows:
        datatype, arraysize, xtype = votable_type(r["oid"])
        unit, ucd, description = meta.get(r["name"], (None, None, None))
        out.append(TapColumn(r["name"], datatype, arraysize, xtype, unit, ucd, None,
                             description, principal=True))  # fmt: skip
    return out


def publish_platform_tables(conn: psycopg.Connection) -> None:
    """Describe the platform's views in TAP_SCHEMA (for signed-in users)."""
    for name, (view, schema_text, text, meta) in TABLES.items():
        schema = name.split(".")[0]
        table = TapTable(name, schema, PG_SCHEMA, view, _columns(conn, view, meta), text)
        write_table(conn, table, public=False, owner=None, by="hectornb",
                    schema_description=schema_text)  # fmt: skip
