"""Who may reduce which frames: proprietary programmes and their members.

A frame belongs to the programme in its ``AAOPRGID`` header. Its science frames are the
programme members' until the programme's ``public_from`` date; after that, everyone's.
A programme the platform has not been told about is nobody's (closed by default).
Calibration frames (biases, darks, flats, arcs) are chosen by the service, not the user,
and may come from any programme of the night, so everyone sees them listed. Their contents
are another matter: a flat or an arc taken with a field configured carries that field's
fibre table (the programme's targets, positions, magnitudes), so a frame's fibre table and
its raw file are its programme's, whatever its class.
"""

from __future__ import annotations

import datetime as dt

from ..config import Settings
from ..db import engine
from ..errors import Invalid
from ..instrument import night_key
from .archive import COLUMNS

#: SQL condition (one parameter: the user) true for frames the user may see.
VISIBLE = (
    "(ndfclass <> 'MFOBJECT' OR aaoprgid IN (SELECT aaoprgid FROM programme"
    " WHERE public_from <= current_date) OR aaoprgid IN (SELECT aaoprgid"
    " FROM programme_member WHERE username = %s))"
)


def set_programme(
    aaoprgid: str,
    public_from: dt.date | None = None,
    title: str = "",
    members: tuple[str, ...] = (),
    settings: Settings | None = None,
) -> None:
    """Create or update a programme and add members (an operator's task: the CLI)."""
    with engine.connect(settings) as conn:
        conn.execute(
            "INSERT INTO programme (aaoprgid, public_from, title) VALUES (%s, %s, %s)"
            " ON CONFLICT (aaoprgid) DO UPDATE SET public_from = excluded.public_from,"
            " title = CASE WHEN excluded.title = '' THEN programme.title"
            " ELSE excluded.title END",
            (aaoprgid, public_from, title),
        )
        for user in members:
            conn.execute(
                "INSERT INTO programme_member VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (aaoprgid, user),
            )


def programmes(settings: Settings | None = None) -> list[dict]:
    with engine.connect(settings) as conn:
        return conn.execute(
            "SELECT p.aaoprgid, p.public_from, p.title, coalesce(array_agg(m.username"
            " ORDER BY m.username) FILTER (WHERE m.username IS NOT NULL), '{}') AS members"
            " FROM programme p LEFT JOIN programme_member m USING (aaoprgid)"
            " GROUP BY p.aaoprgid ORDER BY p.aaoprgid"
        ).fetchall()


#: SQL condition (one parameter: the user) true for frames whose contents the user may
#: read: frames of no programme (biases, darks), public ones, their programmes' members'.
CONTENTS_VISIBLE = (
    "((aaoprgid IS NULL OR aaoprgid = '') AND ndfclass <> 'MFOBJECT' OR aaoprgid IN ("
    "SELECT aaoprgid FROM programme WHERE public_from <= current_date) OR aaoprgid IN ("
    "SELECT aaoprgid FROM programme_member WHERE username = %s))"
)


def refused(
    user: str, paths: list[str], settings: Settings | None = None, contents: bool = False
) -> list[str]:
    """The frames of ``paths`` that ``user`` may not reduce (proprietary to others), or with
    ``contents`` whose files and fibre tables the user may not read."""
    condition = CONTENTS_VISIBLE if contents else VISIBLE
    with engine.connect(settings) as conn:
        rows = conn.execute(
            f"SELECT path FROM raw_frame WHERE path = ANY(%s) AND NOT {condition}",
            (paths, user),
        ).fetchall()
    return sorted(r["path"] for r in rows)


def unknown(paths: list[str], settings: Settings | None = None) -> list[str]:
    """The paths that are not in the archive index."""
    with engine.connect(settings) as conn:
        rows = conn.execute("SELECT path FROM raw_frame WHERE path = ANY(%s)", (paths,)).fetchall()
    known = {r["path"] for r in rows}
    return [p for p in paths if p not in known]


_COMPARE = {
    "night_from": ("night", ">="),
    "night_to": ("night", "<="),
    "ndfclass": ("ndfclass", "="),
    "grating": ("grating", "="),
    "arm": ("arm", "="),
    "programme": ("aaoprgid", "="),
}


def visible_frames(
    user: str, args: dict[str, str], limit: int = 5000, settings: Settings | None = None
) -> list[dict]:
    """Archive rows the user may see, filtered by ``args`` (night range, class, object
    substring, grating, arm, programme)."""
    clauses, params = [VISIBLE], [user]
    for name, (column, op) in _COMPARE.items():
        if args.get(name):
            clauses.append(f"{column} {op} %s")  # column and operator from the table above
            params.append(_night(args[name]) if name.startswith("night") else args[name])
    if args.get("object"):
        clauses.append("object ILIKE %s")
        text = args["object"].replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        params.append(f"%{text}%")
    query = (
        f"SELECT {', '.join(COLUMNS)} FROM raw_frame WHERE {' AND '.join(clauses)}"
        " ORDER BY night, ccd, run LIMIT %s"
    )
    with engine.connect(settings) as conn:
        return conn.execute(query, [*params, limit]).fetchall()


def _night(text: str) -> str:
    try:
        return night_key(text)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


#: The filters `visible_frames` takes.
FILTERS = (*_COMPARE, "object")
