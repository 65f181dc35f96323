"""The archive index: raw frames' headers as a table, by night.

`index_directory` reads every raw frame under a directory (only the headers) into a pandas
DataFrame; `store_index` keeps it in PostgreSQL (``raw_frame``), and `query_frames` selects
from it by night range, class, object, grating, arm and programme.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from psycopg import sql

from ..config import Settings
from ..db import engine
from ..instrument import ARMS, parse_raw_filename
from ..instrument.aat import FIBRE_TABLE_NAMES

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    "path",
    "file",
    "night",
    "ccd",
    "arm",
    "ndfclass",
    "object",
    "exposed",
    "utmjd",
    "epoch",
    "run",
    "instrument",
    "grating",
    "setup",
    "lambdcr",
    "plate",
    "cfg_file",
    "field_id",
    "lamp",
    "meanra",
    "meandec",
    "aaoprgid",
)
_NIGHT = re.compile(r"/(\d{6})/ccd_\d/")
_SPECTID = {a.spectid: a.ccd for a in ARMS.values()}
#: A fibre flat exposed this long or longer used the dome lamp, else the flap lamps (SAMI).
DOME_MIN_EXPOSURE = 17.5


def _plate(source: str) -> int | None:
    parts = str(source).split()
    return int(parts[1]) if len(parts) > 1 and parts[1].lstrip("-").isdigit() else None


def frame_row(path: Path) -> dict:
    """One frame's index row, from its primary header (and fibre-table header)."""
    with fits.open(path, lazy_load_hdus=True) as hdul:
        h = hdul[0].header
        fibres = None
        for hdu in hdul[1:]:
            if hdu.name in FIBRE_TABLE_NAMES:
                fibres = hdu.header
                break
    night_match = _NIGHT.search(str(h.get("FILEORIG", ""))) or _NIGHT.search(
        "/" + "/".join(path.parts[-3:])
    )
    _, _, ccd_digit, run = parse_raw_filename(path.name)
    ccd = _SPECTID.get(str(h.get("SPECTID", "")).strip(), ccd_digit)
    ndfclass = str(h.get("NDFCLASS", "")).strip()
    exposed = float(h.get("EXPOSED", 0.0))
    grating = str(h.get("GRATID", "")).strip()
    cfg = str(h.get("CFG_FILE", "")).strip()
    night = night_match.group(1) if night_match else ""
    plate = _plate(h.get("SOURCE", ""))
    if fibres is not None and "PLATEID" in fibres:
        plate = int(fibres["PLATEID"])
    if ndfclass == "MFFFF":
        lamp = "Dome" if exposed >= DOME_MIN_EXPOSURE else "Flap"
    else:
        lamp = str(h.get("LAMPNAME", "") or "").strip()
    return {
        "path": str(path.resolve()),
        "file": path.name,
        "night": night,
        "ccd": ccd,
        "arm": ARMS[ccd].name if ccd in ARMS else f"ccd_{ccd}",
        "ndfclass": ndfclass,
        "object": str(h.get("OBJECT", "")).strip(),
        "exposed": exposed,
        "utmjd": float(h.get("UTMJD", np.nan)),
        "epoch": float(h.get("EPOCH", np.nan)),
        "run": int(h.get("RUN", run)),
        "instrument": str(h.get("INSTRUME", "")).strip(),
        "grating": grating,
        "setup": f"{grating}/{float(h.get('GRATANGL', 0)):.2f}/{float(h.get('CAMANGL', 0)):.2f}",
        "lambdcr": float(h.get("LAMBDCR", np.nan)),
        "plate": plate,
        "cfg_file": cfg,
        "field_id": f"{night}/{Path(cfg).stem}" if cfg else "",
        "lamp": lamp,
        "meanra": float(h.get("MEANRA", np.nan)),
        "meandec": float(h.get("MEANDEC", np.nan)),
        "aaoprgid": str(h.get("AAOPRGID", "")).strip(),
    }


def index_directory(rawdir: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """Index every raw frame below ``rawdir``.

    Returns the index (one row per frame, sorted by night, CCD and run) and one message per
    file that could not be read, naming the file and why; those files are left out.
    """
    rows, problems = [], []
    for path in sorted(Path(rawdir).rglob("*.fit*")):
        if path.name.endswith("_truth.npz"):
            continue
        try:
            parse_raw_filename(path.name)
        except ValueError:
            continue  # products, truth files and anything else that is not a raw frame
        try:
            rows.append(frame_row(path))
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"{path}: cannot read its header: {exc}")
    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    if len(frame):
        frame = frame.sort_values(["night", "ccd", "run"], ignore_index=True)
    return frame, problems


def store_index(frame: pd.DataFrame, settings: Settings | None = None) -> int:
    """Insert or refresh the frames in PostgreSQL; returns how many rows were written."""
    cols = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in COLUMNS[1:]
    )
    query = sql.SQL(
        "INSERT INTO raw_frame ({cols}) VALUES ({vals})"
        " ON CONFLICT (path) DO UPDATE SET {updates}, indexed_at = now()"
    ).format(cols=cols, vals=sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)), updates=updates)
    records = [
        tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in row)
        for row in frame[list(COLUMNS)].astype(object).itertuples(index=False, name=None)
    ]
    with engine.connect(settings) as conn, conn.cursor() as cur:
        cur.executemany(query, records)
    return len(records)


def query_frames(
    night_from: str | None = None,
    night_to: str | None = None,
    ndfclass: str | None = None,
    object_contains: str | None = None,
    grating: str | None = None,
    arm: str | None = None,
    programme: str | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Frames of the stored index matching every given criterion, in night/CCD/run order."""
    clauses, params = [sql.SQL("true")], []
    for column, op, value in (
        ("night", ">=", night_from),
        ("night", "<=", night_to),
        ("ndfclass", "=", ndfclass),
        ("grating", "=", grating),
        ("arm", "=", arm),
        ("aaoprgid", "=", programme),
    ):
        if value:
            clauses.append(sql.SQL("{} " + op + " %s").format(sql.Identifier(column)))
            params.append(value)
    if object_contains:
        clauses.append(sql.SQL("object ILIKE %s"))
        params.append("%" + object_contains.replace("%", r"\%").replace("_", r"\_") + "%")
    query = sql.SQL("SELECT {} FROM raw_frame WHERE {} ORDER BY night, ccd, run").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), sql.SQL(" AND ").join(clauses)
    )
    with engine.connect(settings) as conn:
        rows = conn.execute(query, params).fetchall()
    import pandas as pd

    return pd.DataFrame(rows, columns=list(COLUMNS))


def frames_for_reduction(paths: list[str], settings: Settings | None = None) -> pd.DataFrame:
    """The stored index rows of the object frames ``paths`` and of every calibration frame
    in their nights' directories (what the plan chooses calibrations from), in night/CCD/run
    order. Only the objects' own directories count: a night indexed twice (a mirror, a
    copy) must not offer two frames of one name."""
    night_dirs = sorted({str(Path(p).parent.parent) + "/" for p in paths})
    query = sql.SQL(
        "SELECT {cols} FROM raw_frame WHERE path = ANY(%s) OR (ndfclass <> 'MFOBJECT'"
        " AND EXISTS (SELECT 1 FROM unnest(%s::text[]) d WHERE starts_with(path, d)))"
        " ORDER BY night, ccd, run"
    ).format(cols=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
    with engine.connect(settings) as conn:
        rows = conn.execute(query, (paths, night_dirs)).fetchall()
    import pandas as pd

    return pd.DataFrame(rows, columns=list(COLUMNS))
