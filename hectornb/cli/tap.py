"""``hectornb tap …``: publish tables through the TAP service, list and withdraw them, from
the shell."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import acting_user, add_user_argument, command_group

if TYPE_CHECKING:
    from . import Commands


def _cmd_ingest(args: argparse.Namespace) -> int:
    from ..errors import HectornbError
    from ..tap import ingest_file

    user = acting_user(args)
    try:
        table = ingest_file(
            args.file,
            args.table,
            description=args.description,
            meta_path=args.meta,
            public=not args.private,
            owner=user if args.private else None,
            by=user,
        )
    except HectornbError as exc:  # told as the file's problem, its name first, unlike main's
        text = str(exc)
        print(text if text.startswith(str(args.file)) else f"{args.file}: {text}", file=sys.stderr)
        return 1
    position = table.position()
    where = f"; positions {position[0]}, {position[1]} indexed" if position else ""
    print(
        f"{table.name}: {len(table.columns)} columns published"
        f"{' (private to ' + user + ')' if args.private else ''}{where}"
    )
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    from ..tap import TapService

    for t in TapService().tables():
        access = "public" if t.public else (f"private to {t.owner}" if t.owner else "signed-in")
        print(f"{t.name}\t{len(t.columns)} columns\t{access}\t{t.description or ''}")
    return 0


def _cmd_drop(args: argparse.Namespace) -> int:
    from ..tap.publish import unpublish

    if not unpublish(args.table):
        print(
            f"{args.table}: no such published table (or not one that can be dropped)",
            file=sys.stderr,
        )
        return 1
    print(f"{args.table}: withdrawn and dropped")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..tap.shipped import publish_demo_catalogues

    for name in publish_demo_catalogues():
        print(f"{name}: published")
    return 0


def add_commands(sub: Commands) -> None:
    """Register ``tap`` on the main parser's sub-commands."""
    tsub = command_group(sub, "tap", "the TAP service's tables")
    p = tsub.add_parser(
        "ingest",
        help="publish a VOTable, FITS, CSV or Parquet table "
        "(re-ingesting a name replaces it atomically)",
    )
    p.add_argument("file")
    p.add_argument("--table", required=True, help="SCHEMA.TABLE, the name queries use")
    p.add_argument("--description", help="what the table is")
    p.add_argument("--meta", help="a YAML file: description, and per column unit, ucd, description")
    p.add_argument(
        "--private",
        action="store_true",
        help="only the ingesting user may query it (default: public)",
    )
    add_user_argument(p)
    p.set_defaults(func=_cmd_ingest)
    p = tsub.add_parser("tables", help="the published tables")
    p.set_defaults(func=_cmd_tables)
    p = tsub.add_parser("drop", help="withdraw a published table and drop it")
    p.add_argument("table")
    p.set_defaults(func=_cmd_drop)
    p = tsub.add_parser(
        "demo", help="publish the demo catalogues (Gaia DR3 G < 10, Hipparcos, OpenNGC)"
    )
    p.set_defaults(func=_cmd_demo)
