"""``hectornb targets …``: target lists and their BADCLASS classifications from the shell,
as scripts rely on them: a rejected file is told line by line (``FILE:LINE: message``) and
nothing of it is stored."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import acting_user, add_user_argument, command_group

if TYPE_CHECKING:
    from ..targets import TargetList
    from . import Commands


def _read_target_file(path: str, if_rejected: str | None = None) -> TargetList:
    """The target file at ``path``, validated; else a `TargetListError`, which `main` prints
    one problem a line. A file that cannot be read is told as its line 0 (the file as a
    whole), the same form, so a script parses one. ``if_rejected``: a line added after the
    problems of a file that was read and rejected."""
    from ..config import get_settings
    from ..targets import LineError, TargetListError, read_target_list

    try:
        return read_target_list(path, get_settings().max_upload_bytes)
    except TargetListError as exc:
        if if_rejected:
            exc.add_note(if_rejected)
        raise
    except OSError as exc:
        raise TargetListError(path, [LineError(0, f"cannot read: {exc.strerror}")]) from None


def _cmd_validate(args: argparse.Namespace) -> int:
    targets = _read_target_file(args.file)
    print(f"{len(targets)} targets")
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from ..targets import target_store

    targets = _read_target_file(args.file, if_rejected="nothing was stored")
    name = args.name or targets.stem
    result = target_store().import_list(
        targets, name, owner=acting_user(args), overwrite=args.overwrite
    )
    print(result.summary())
    return 0


def _cmd_lists(args: argparse.Namespace) -> int:
    from ..targets import target_store

    for info in target_store().lists():
        print(
            f"{info.name}\t{info.n_targets} targets\t{info.n_classified} classified"
            f"\towner {info.owner}\t{info.created_at:%Y-%m-%d %H:%M %Z}"
        )
    return 0


def _cmd_delete(args: argparse.Namespace) -> int:
    from ..targets import target_store

    target_store().delete_list(args.name, acting_user(args))
    print(f"deleted {args.name}")
    return 0


def _cmd_classify(args: argparse.Namespace) -> int:
    from ..targets import target_store
    from ..targets.badclass import parse_badclass

    value = parse_badclass(args.badclass)
    row = target_store().classify(args.name, args.target, value, acting_user(args))
    print(f"{row['name']}: BADCLASS {row['badclass']} ({row['classified_by']})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from ..targets import export_csv, target_store

    text = export_csv(target_store(), args.name, per_user=args.per_user)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def add_commands(sub: Commands) -> None:
    """Register ``targets`` on the main parser's sub-commands."""
    tsub = command_group(sub, "targets", "target lists and classifications")

    p = tsub.add_parser("validate", help="check a target file; report every error")
    p.add_argument("file")
    p.set_defaults(func=_cmd_validate)

    p = tsub.add_parser("import", help="validate and store a target file")
    p.add_argument("file")
    p.add_argument("--name", help="list name (default: the file name without suffix)")
    p.add_argument("--overwrite", action="store_true", help="replace a list of the same name")
    add_user_argument(p)
    p.set_defaults(func=_cmd_import)

    p = tsub.add_parser("lists", help="the stored target lists")
    p.set_defaults(func=_cmd_lists)

    p = tsub.add_parser("delete", help="delete a target list (its history is kept)")
    p.add_argument("name")
    add_user_argument(p)
    p.set_defaults(func=_cmd_delete)

    p = tsub.add_parser("classify", help="set a target's BADCLASS (0–8)")
    p.add_argument("name")
    p.add_argument("target")
    p.add_argument("badclass")
    add_user_argument(p)
    p.set_defaults(func=_cmd_classify)

    p = tsub.add_parser("export", help="write a list with its classifications as CSV")
    p.add_argument("name")
    p.add_argument("-o", "--output")
    p.add_argument(
        "--per-user", action="store_true", help="add one badclass:<user> column per classifier"
    )
    p.set_defaults(func=_cmd_export)
