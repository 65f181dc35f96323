"""The ``hectornb`` command: `main`, the parser it reads, and the arguments several commands
share. Each command group is registered by its own module: `platform` (config, serve,
demo), `archive` (simulated and indexed raw frames), `reduce` (reductions, their spectra and
who may reduce a programme's frames), `obslog`, `tap` and `targets`.

Exit codes: 0 success, 1 the input was rejected (a bad file, an unknown list), 2 usage error.
Errors go to stderr, one per line, ``FILE:LINE: message`` for target files.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..identity import process_user

if TYPE_CHECKING:
    from ..errors import HectornbError

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def add_user_argument(p: argparse.ArgumentParser) -> None:
    """``--user``, for the commands that act on someone's behalf."""
    p.add_argument(
        "--user",
        default=None,
        help="act as this user (default: the login name, or JUPYTERHUB_USER under a Hub)",
    )


def acting_user(args: argparse.Namespace) -> str:
    """Whom the command acts for: ``--user``, else whoever runs it."""
    return args.user or process_user()


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """``--engine`` and ``--option``: what reduces the frames, and how."""
    p.add_argument(
        "--engine",
        default="builtin",
        help="builtin (default), builtin@VERSION, 2dfdr, 2dfdr-docker[@TAG]",
    )
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a 2dFdr option (or the form's short name); repeatable",
    )


def command_group(sub: Commands, name: str, help: str) -> Commands:
    """A command with sub-commands (``hectornb targets …``); returns their subparsers."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)


def build_parser() -> argparse.ArgumentParser:
    # imported here, not above: each module imports its helpers from this one
    from . import archive, obslog, platform, reduce, tap, targets

    parser = argparse.ArgumentParser(prog="hectornb", description="Hector / 2dF science platform")
    sub = parser.add_subparsers(dest="command", required=True)
    # in the order ``hectornb --help`` lists them
    for group in (platform, archive, reduce, obslog, tap, targets):
        group.add_commands(sub)
    return parser


def _refusal(exc: HectornbError) -> list[str]:
    """The lines a refusal is told in: a rejected target file's problems one a line, as
    ``FILE:LINE: message`` (what editors jump to and scripts parse), anything else as one
    ``error:`` line; then what the command added (``add_note``: what it did not do)."""
    from ..targets.parse import TargetListError

    lines = exc.lines() if isinstance(exc, TargetListError) else [f"error: {exc}"]
    return [*lines, *getattr(exc, "__notes__", ())]


def main(argv: list[str] | None = None) -> int:
    from ..errors import HectornbError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HectornbError as exc:  # anything else is the platform's fault: its traceback shows
        for line in _refusal(exc):
            print(line, file=sys.stderr)
        return 1
