"""``hectornb simulate night`` and ``hectornb archive index``: raw frames, written with a
known truth by the simulator, and read from disk into the database's index of raw frames
(which the reduction planner and the Reduce service choose frames from)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import command_group

if TYPE_CHECKING:
    import pandas as pd

    from . import Commands


def _cmd_simulate_night(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..simulate import simulate_night

    try:
        date = dt.date.fromisoformat(args.date)
    except ValueError:
        print(f"error: --date {args.date!r} is not YYYY-MM-DD", file=sys.stderr)
        return 2
    paths = simulate_night(
        args.outdir,
        date=date,
        instrument=args.instrument,
        fields=args.fields,
        size=args.size,
        seed=args.seed,
    )
    print(f"{len(paths)} raw frames in {Path(args.outdir) / paths[0].parent.parent.name}")
    return 0


def index_raw_frames(rawdir: str) -> tuple[pd.DataFrame, list[str]]:
    """The headers of the raw frames under ``rawdir``, one row a frame, and the frames that
    could not be read (each said on stderr: a night is still planned without them)."""
    from ..reduce import index_directory

    frame, problems = index_directory(rawdir)
    for problem in problems:
        print(problem, file=sys.stderr)
    return frame, problems


def _cmd_archive_index(args: argparse.Namespace) -> int:
    from ..reduce import store_index

    frame, problems = index_raw_frames(args.rawdir)
    if frame.empty:
        print(f"error: no raw frames (DDmmmCNNNN.fits) under {args.rawdir}", file=sys.stderr)
        return 1
    stored = store_index(frame)
    counts = frame.groupby(["night", "ndfclass"]).size()
    for (night, ndfclass), n in counts.items():
        print(f"{night}  {ndfclass:<9} {n}")
    print(f"{stored} frames indexed" + (f", {len(problems)} unreadable" if problems else ""))
    return 1 if problems else 0


def add_commands(sub: Commands) -> None:
    """Register ``simulate`` and ``archive`` on the main parser's sub-commands."""
    p = command_group(sub, "simulate", "simulated raw data with known truth").add_parser(
        "night", help="write one night of raw frames (both arms)"
    )
    p.add_argument("outdir")
    p.add_argument("--date", default="2025-08-27", help="the night, YYYY-MM-DD")
    p.add_argument("--instrument", choices=("2df", "hector"), default="2df")
    p.add_argument("--fields", type=int, default=2)
    p.add_argument("--size", choices=("full", "small"), default="full")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=_cmd_simulate_night)

    p = command_group(sub, "archive", "the index of raw frames").add_parser(
        "index", help="read raw frames' headers into the database"
    )
    p.add_argument("rawdir")
    p.set_defaults(func=_cmd_archive_index)
