"""Hector tile files into the observing log: one tile, its targets and its stars.

A tile file (``Tile_<field>_T<nnn>_<dates>.csv``) starts with 11 ``KEY,value`` lines
(PROXIMITY, TILING_DATE, OBS_TEMP, ROBOT_TEMP, MDLPARS, EQUINOX, CENTRE, UTTIME, UTDATE,
PLATEID, LABEL), then a header row ``#probe,ID,…,RA,DEC,…,Hexabundle,…`` and one row per
probe. IDs start with C for a galaxy, S for a standard star, G for a guide star; sky fibres
are named ``Sky-<bundle>-<n>``. Columns are found by name, so the file's other columns may
come and go. A file with any bad row is rejected whole, every problem with its line number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Invalid
from .schema import BUNDLES, GUIDES, STANDARD_BUNDLES

HEADER_KEYS = (
    "PROXIMITY",
    "TILING_DATE",
    "OBS_TEMP",
    "ROBOT_TEMP",
    "MDLPARS",
    "EQUINOX",
    "CENTRE",
    "UTTIME",
    "UTDATE",
    "PLATEID",
    "LABEL",
)
_NUMBERS = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


class TileFileError(Invalid):
    """A tile file that breaks the format; ``problems`` lists ``"file:line: reason"``."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "the tile file was not imported, nothing was stored:\n" + "\n".join(problems)
        )


@dataclass
class TileFile:
    """A tile file read: the tile record, and the targets and stars it places."""

    tile: dict
    targets: list[dict] = field(default_factory=list)
    stars: list[dict] = field(default_factory=list)
    header: dict = field(default_factory=dict)


def _date(text: str) -> dt.date | None:
    digits = re.findall(r"\d+", text or "")
    if len(digits) >= 3 and len(digits[0]) == 4:
        return dt.date(int(digits[0]), int(digits[1]), int(digits[2]))
    if len(digits) == 1 and len(digits[0]) == 6:  # yymmdd, as the file names have it
        d = digits[0]
        return dt.date(2000 + int(d[:2]), int(d[2:4]), int(d[4:]))
    return None


def _number(row: dict, *names: str) -> float | None:
    for name in names:
        value = (row.get(name) or "").strip()
        if value and value.lower() not in ("nan", "-99", "-999"):
            return float(value)
    return None


def read_tile_file(source: str | Path, text: str | None = None) -> TileFile:
    """Read a tile file (a path, or its ``text`` with ``source`` as its name)."""
    name = Path(source).name
    if text is None:
        text = Path(source).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    problems: list[str] = []
    header: dict[str, str] = {}
    k = 0
    while k < len(lines) and not lines[k].lstrip().startswith("#"):
        if lines[k].strip():
            key, _, value = lines[k].partition(",")
            header[key.strip().upper()] = value.strip()
        k += 1
    missing = [key for key in ("CENTRE", "UTDATE") if key not in header]
    if missing:
        problems.append(f"{name}:1: missing header line(s) {', '.join(missing)} (KEY,value)")
    if k == len(lines):
        raise TileFileError([*problems, f"{name}:{k}: no '#probe,ID,…' header row"])
    columns = [c.strip() for c in next(csv.reader([lines[k].lstrip()[1:]]))]
    for needed in ("probe", "ID", "RA", "DEC"):
        if needed not in columns:
            problems.append(f"{name}:{k + 1}: the header row has no {needed} column")
    centre = [float(x) for x in _NUMBERS.findall(header.get("CENTRE", ""))]
    date = _date(header.get("UTDATE", ""))
    if "CENTRE" in header and len(centre) < 2:
        problems.append(f"{name}:1: CENTRE must hold RA and Dec in degrees")
    if "UTDATE" in header and date is None:
        problems.append(f"{name}:1: UTDATE is not a date: {header['UTDATE']!r}")
    if problems:
        raise TileFileError(problems)

    out = TileFile(tile={}, header=header)
    bundles: dict[str, dict] = {}
    guides: dict[str, str] = {}
    sky: list[dict] = []
    where: dict[str, int] = {}
    for n, values in enumerate(csv.reader(lines[k + 1 :]), start=k + 2):
        if not values or not "".join(values).strip():
            continue
        if len(values) != len(columns):
            problems.append(f"{name}:{n}: {len(values)} values for {len(columns)} columns")
            continue
        row = dict(zip(columns, (v.strip() for v in values), strict=True))
        ident = row["ID"]
        try:
            ra, dec = float(row["RA"]), float(row["DEC"])
            if not (0 <= ra < 360 and -90 <= dec <= 90):
                raise ValueError
        except ValueError:
            problems.append(
                f"{name}:{n}: RA, DEC must be degrees, not {row['RA']!r}, {row['DEC']!r}"
            )
            continue
        bundle = (row.get("Hexabundle") or row.get("Label") or "").strip()
        if ident.lower().startswith("sky"):
            sky.append({"name": ident, "ra": ra, "dec": dec})
            continue
        kind = ident[:1].upper()
        if kind == "C":
            try:
                galaxy = int(ident[1:])
            except ValueError:
                problems.append(f"{name}:{n}: a galaxy ID is C and digits, not {ident!r}")
                continue
            # the probe's row stays with the tile: a galaxy on several tiles is one target
            member = {
                "kind": "target",
                "id": str(galaxy),
                "row": {c: row[c] for c in columns if row[c]},
            }
            out.targets.append(
                {
                    "galaxy_id": galaxy,
                    "ra": ra,
                    "dec": dec,
                    "z": _number(row, "z"),
                    "g_mag": _number(row, "g_mag"),
                    "r_mag": _number(row, "r_mag"),
                    "re": _number(row, "Re"),
                    "mstar": _number(row, "Mstar"),
                }
            )
        elif kind in ("S", "G"):
            member = {"kind": "star", "id": ident, "row": {c: row[c] for c in columns if row[c]}}
            out.stars.append(
                {
                    "star_id": ident,
                    "ra": ra,
                    "dec": dec,
                    "magnitude": _number(row, "r_mag", "g_mag", "mag"),
                    "kind": "standard" if kind == "S" else "guide",
                }
            )
        else:
            problems.append(
                f"{name}:{n}: ID {ident!r} is neither C (galaxy), S (standard), G (guide) nor Sky-…"
            )
            continue
        if kind == "G":
            if bundle not in GUIDES:
                problems.append(
                    f"{name}:{n}: guide star {ident} needs a guide bundle GS1-GS6, not {bundle!r}"
                )
            elif bundle in guides:
                problems.append(
                    f"{name}:{n}: guide bundle {bundle} used twice (line {where[bundle]})"
                )
            else:
                guides[bundle], where[bundle] = ident, n
            continue
        if bundle not in BUNDLES:
            problems.append(f"{name}:{n}: {ident} needs a hexabundle A-U, not {bundle!r}")
        elif bundle in bundles:
            problems.append(f"{name}:{n}: hexabundle {bundle} used twice (line {where[bundle]})")
        elif (bundle in STANDARD_BUNDLES) != (kind == "S"):
            problems.append(
                f"{name}:{n}: hexabundles H and U take the standard stars; {ident} is in {bundle}"
            )
        else:
            bundles[bundle], where[bundle] = member, n
    if problems:
        raise TileFileError(problems)
    label = header.get("LABEL") or Path(name).stem
    out.tile = {
        "tile_id": f"T-{label}-{centre[0]:.4f}-{centre[1]:.4f}-{date.isoformat()}",
        "ra": centre[0],
        "dec": centre[1],
        "date": date,
        "plate_id": header.get("PLATEID"),
        "label": label,
        "bundles": bundles,
        "guides": guides,
        "sky": sky,
        "meta": {"file": name, "header": header},
    }
    return out


def read_tile_bytes(data: bytes, filename: str) -> TileFile:
    """A tile file uploaded (bytes), read as `read_tile_file` reads a path."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TileFileError([f"{filename}:1: not UTF-8 text ({exc.reason})"]) from None
    return read_tile_file(filename, io.StringIO(text).getvalue())
