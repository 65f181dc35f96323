"""Target lists with their classifications as CSV (the Classify app's Download)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

from .. import csv_cells

EXPORT_COLUMNS = ("name", "ra", "dec", "badclass", "user", "classified_at")


def _iso_utc(value) -> str:
    if value is None:
        return ""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def export_csv(store, name: str, per_user: bool = False) -> str:
    """The list ``name`` as CSV text.

    Columns ``name,ra,dec,badclass,user,classified_at``: ra/dec in decimal degrees with
    8 decimals (36 µas), the latest classification and its classifier, ``classified_at`` in
    ISO 8601 UTC; the last three are empty for unclassified targets. With ``per_user`` one
    more column ``badclass:<user>`` per classifier follows.
    """
    if hasattr(store, "export_csv"):  # a client of the data centre's service: it writes it
        return store.export_csv(name, per_user)
    return "".join(export_csv_chunks(store, name, per_user))


def export_csv_chunks(store, name: str, per_user: bool = False) -> Iterator[str]:
    """`export_csv` in pieces of some thousands of targets, read from the database as they
    are written, so a list of millions costs the server little memory (a store without
    ``export_batches`` reads the list whole)."""
    if hasattr(store, "export_batches"):
        per, batches = store.export_batches(name)
    else:
        rows, per = store.export_rows(name)
        batches = iter([rows])
    users = sorted(per) if per_user else []
    out = io.StringIO()
    writer = csv_cells.writer(out, lineterminator="\n")
    writer.writerow([*EXPORT_COLUMNS, *(f"badclass:{u}" for u in users)])
    yield out.getvalue()
    for batch in batches:
        out = io.StringIO()
        writer = csv_cells.writer(out, lineterminator="\n")
        for r in batch:
            bc = r["badclass"]
            writer.writerow(
                [
                    r["name"],
                    f"{r['ra']:.8f}",
                    f"{r['dec']:.8f}",
                    "" if bc is None else bc,
                    r["classified_by"] or "",
                    _iso_utc(r["classified_at"]),
                    *(per[u].get(r["name"], "") for u in users),
                ]
            )
        yield out.getvalue()
