"""``hectornb obslog …``: the observer role, Hector tile files and a night's report, from
the shell."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from . import add_user_argument, command_group

if TYPE_CHECKING:
    from . import Commands


def _cmd_observer(args: argparse.Namespace) -> int:
    from ..obslog import ObslogStore

    ObslogStore().set_observer(args.username, args.action == "add")
    print(f"{args.username} {'is' if args.action == 'add' else 'is no longer'} an observer")
    return 0


def _cmd_import_tile(args: argparse.Namespace) -> int:
    from ..obslog import ObslogStore
    from ..obslog.tiles import read_tile_file

    store = ObslogStore()
    for path in args.files:
        counts = store.import_tile(read_tile_file(path), args.user)
        print(json.dumps(counts))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..config import get_settings

    if get_settings().service_url:  # a user's server at a data centre: the service draws it
        from ..client import ServiceClient

        response = ServiceClient().request("GET", f"obslog/reports/{args.night}.pdf")
        Path(args.output).write_bytes(response.content)
        print(args.output)
        return 0
    from ..obslog.report import night_report

    print(night_report(args.night, args.output))
    return 0


def add_commands(sub: Commands) -> None:
    """Register ``obslog`` on the main parser's sub-commands."""
    osub = command_group(sub, "obslog", "the observing log")
    p = osub.add_parser("observer", help="give (add) or take (remove) the observer role")
    p.add_argument("action", choices=("add", "remove"))
    p.add_argument("username")
    p.set_defaults(func=_cmd_observer)
    p = osub.add_parser(
        "import-tile",
        help="Hector tile files -> tiles, targets and stars "
        "(each file whole, or nothing with every error's line)",
    )
    p.add_argument("files", nargs="+")
    add_user_argument(p)
    p.set_defaults(func=_cmd_import_tile)
    p = osub.add_parser("report", help="a night's log as a PDF report")
    p.add_argument("night", help="YYYY-MM-DD (the local date of the evening)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_report)
