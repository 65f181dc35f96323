"""``hectornb config``, ``serve`` and ``demo``: the platform itself, its settings, its web
server and the demo data a new installation starts from."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import acting_user, add_user_argument

if TYPE_CHECKING:
    from . import Commands


def _cmd_config(args: argparse.Namespace) -> int:
    from ..config import get_settings, settings_table

    if args.table:  # every setting, its default and what it does (the README's table)
        print(settings_table())
        return 0
    rows = get_settings().describe()
    width = max(len(r[0]) for r in rows)
    for var, value, source in rows:
        print(f"{var:<{width}}  {value}  [{source}]")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ..server.app import serve

    return serve(port=args.port, open_browser=not args.no_browser, demo=args.demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..config import get_settings
    from ..demo import load_demo

    service = get_settings().service_url
    if service:  # checked first: half a demo loaded into the data centre would be worse
        print(
            f"error: this server is a client of the hectornb service at {service}; its "
            "demo data is loaded by the data centre (hectornb demo, as the service's user)",
            file=sys.stderr,
        )
        return 1

    for line in load_demo(owner=acting_user(args)):
        print(line)
    return 0


def add_commands(sub: Commands) -> None:
    """Register ``config``, ``serve`` and ``demo`` on the main parser's sub-commands."""
    p = sub.add_parser("config", help="print the effective settings")
    p.add_argument(
        "--table",
        action="store_true",
        help="print every setting's default and meaning as a Markdown table",
    )
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("serve", help="start the platform (landing page, apps, REST API)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--demo", action="store_true", help="load the demo data first")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("demo", help="load the demo target lists into the database")
    add_user_argument(p)
    p.set_defaults(func=_cmd_demo)
