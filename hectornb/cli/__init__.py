"""The ``hectornb`` command.

Exit codes: 0 success, 1 the input was rejected (a bad file, an unknown list), 2 usage error.
Errors go to stderr, one per line, ``FILE:LINE: message`` for target files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..identity import process_user


def _user_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--user",
        default=None,
        help="act as this user (default: the login name, or JUPYTERHUB_USER under a Hub)",
    )


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


def _cmd_targets_validate(args: argparse.Namespace) -> int:
    from ..config import get_settings
    from ..targets import TargetListError, read_target_list

    try:
        targets = read_target_list(args.file, get_settings().max_upload_bytes)
    except TargetListError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{args.file}:0: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"{len(targets)} targets")
    return 0


def _cmd_targets_import(args: argparse.Namespace) -> int:
    from ..config import get_settings
    from ..targets import TargetListError, read_target_list, target_store

    try:
        targets = read_target_list(args.file, get_settings().max_upload_bytes)
    except TargetListError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        print("nothing was stored", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{args.file}:0: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    name = args.name or targets.stem
    result = target_store().import_list(
        targets, name, owner=args.user or process_user(), overwrite=args.overwrite
    )
    print(result.summary())
    return 0


def _cmd_targets_lists(args: argparse.Namespace) -> int:
    from ..targets import target_store

    for info in target_store().lists():
        print(
            f"{info.name}\t{info.n_targets} targets\t{info.n_classified} classified"
            f"\towner {info.owner}\t{info.created_at:%Y-%m-%d %H:%M %Z}"
        )
    return 0


def _cmd_targets_delete(args: argparse.Namespace) -> int:
    from ..targets import target_store

    target_store().delete_list(args.name, args.user or process_user())
    print(f"deleted {args.name}")
    return 0


def _cmd_targets_classify(args: argparse.Namespace) -> int:
    from ..targets import target_store
    from ..targets.badclass import parse_badclass

    value = parse_badclass(args.badclass)
    row = target_store().classify(args.name, args.target, value, args.user or process_user())
    print(f"{row['name']}: BADCLASS {row['badclass']} ({row['classified_by']})")
    return 0


def _cmd_targets_export(args: argparse.Namespace) -> int:
    from ..targets import export_csv, target_store

    text = export_csv(target_store(), args.name, per_user=args.per_user)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ..server.app import serve

    return serve(port=args.port, open_browser=not args.no_browser, demo=args.demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..config import get_settings
    from ..demo import load_demo

    service = get_settings().service_url
    if service:  # checked first: half a demo loaded into the data centre would be worse
        print(f"error: this server is a client of the hectornb service at {service}; its "
              "demo data is loaded by the data centre (hectornb demo, as the service's user)",
              file=sys.stderr)  # fmt: skip
        return 1

    for line in load_demo(owner=args.user or process_user()):
        print(line)
    return 0


def _cmd_simulate_night(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..simulate import simulate_night

    try:
        date = dt.date.fromisoformat(args.date)
    except ValueError:
        print(f"error: --date {args.date!r} is not YYYY-MM-DD", file=sys.stderr)
        return 2
    paths = simulate_night(args.outdir, date=date, instrument=args.instrument,
                           fields=args.fields, size=args.size, seed=args.seed)  # fmt: skip
    print(f"{len(paths)} raw frames in {Path(args.outdir) / paths[0].parent.parent.name}")
    return 0


def _index(rawdir: str):
    from ..reduce import index_directory

    frame, problems = index_directory(rawdir)
    for problem in problems:
        print(problem, file=sys.stderr)
    return frame, problems


def _cmd_archive_index(args: argparse.Namespace) -> int:
    from ..reduce import store_index

    frame, problems = _index(args.rawdir)
    if frame.empty:
        print(f"error: no raw frames (DDmmmCNNNN.fits) under {args.rawdir}", file=sys.stderr)
        return 1
    stored = store_index(frame)
    counts = frame.groupby(["night", "ndfclass"]).size()
    for (night, ndfclass), n in counts.items():
        print(f"{night}  {ndfclass:<9} {n}")
    print(f"{stored} frames indexed" + (f", {len(problems)} unreadable" if problems else ""))
    return 1 if problems else 0


def _cmd_reduce_plan(args: argparse.Namespace) -> int:
    from ..reduce import describe_plan, plan_night

    frame, _ = _index(args.rawdir)
    groups = plan_night(frame)
    if not groups:
        print(f"error: no object frames (MFOBJECT) under {args.rawdir}", file=sys.stderr)
        return 1
    print(describe_plan(groups))
    return 0 if all(g.ok for g in groups) else 1


def _progress(result, done: int, total: int) -> None:
    """One line per finished step; on a terminal a bar that redraws in place."""
    if sys.stderr.isatty():
        bar = "#" * (30 * done // total)
        print(f"\r[{bar:<30}] {done}/{total} {result.step.describe()[:60]:<60}",
              end="\n" if done == total else "", file=sys.stderr, flush=True)  # fmt: skip
        if result.status != "done":
            print(f"\n{result.describe()}", file=sys.stderr)
    else:
        print(f"[{done}/{total}] {result.describe()}", file=sys.stderr, flush=True)


def _cmd_reduce_night(args: argparse.Namespace) -> int:
    from ..errors import HectornbError
    from ..reduce.options import parse_pairs
    from ..reduce.run import reduce_night

    try:
        options = parse_pairs(args.option)
        run = reduce_night(args.rawdir, args.out, engine=args.engine, options=options,
                           workers=args.workers, on_result=_progress)  # fmt: skip
    except (HectornbError, FileNotFoundError) as exc:  # an unknown option or engine, no frames
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in run.problems:
        print(f"not reduced: {problem}", file=sys.stderr)
    failures = run.failures()
    for result in failures:
        print(result.describe(), file=sys.stderr)
    done = len(run.results) - len(failures)
    print(f"{done} of {len(run.results)} steps done in {run.seconds:.1f} s; "
          f"products under {Path(args.out).resolve()}")  # fmt: skip
    for kind in ("reduce_object", "combine_image", "splice"):
        paths = run.products(kind)
        if paths:
            print(f"  {kind}: {len(paths)} files, e.g. {paths[0]}")
    return 0 if run.ok else 1


def _cmd_reduce_options(args: argparse.Namespace) -> int:
    from ..reduce.options import FORM_NAMES, OPTIONS

    form = {v: k for k, v in FORM_NAMES.items()}
    for o in OPTIONS.values():
        alias = f" (form: {form[o.name]})" if o.name in form else ""
        values = "|".join(o.choices) if o.choices else "number"
        print(f"{o.name}={o.default}  [{values}]{alias}\n    {o.help}")
    return 0


def _cmd_spectra_pdf(args: argparse.Namespace) -> int:
    from ..errors import HectornbError
    from ..spectra.pdf import spectra_pdf

    try:
        out = spectra_pdf(args.file, args.output)
    except (OSError, HectornbError) as exc:  # no such file, or not a reduced product
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _group(sub, name: str, help: str):
    """A command with sub-commands (``hectornb targets …``); returns their subparsers."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hectornb", description="Hector / 2dF science platform")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("config", help="print the effective settings")
    p.add_argument("--table", action="store_true",
                   help="print every setting's default and meaning as a Markdown table")
    p.set_defaults(func=_cmd_config)

    p = sub.add_parser("serve", help="start the platform (landing page, apps, REST API)")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--demo", action="store_true", help="load the demo data first")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("demo", help="load the demo target lists into the database")
    _user_arg(p)
    p.set_defaults(func=_cmd_demo)

    p = _group(sub, "simulate", "simulated raw data with known truth").add_parser(
        "night", help="write one night of raw frames (both arms)"
    )
    p.add_argument("outdir")
    p.add_argument("--date", default="2025-08-27", help="the night, YYYY-MM-DD")
    p.add_argument("--instrument", choices=("2df", "hector"), default="2df")
    p.add_argument("--fields", type=int, default=2)
    p.add_argument("--size", choices=("full", "small"), default="full")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=_cmd_simulate_night)

    p = _group(sub, "archive", "the index of raw frames").add_parser(
        "index", help="read raw frames' headers into the database"
    )
    p.add_argument("rawdir")
    p.set_defaults(func=_cmd_archive_index)

    rsub = _group(sub, "reduce", "reductions")
    p = rsub.add_parser("plan", help="groups and calibrations for the frames under RAWDIR")
    p.add_argument("rawdir")
    p.set_defaults(func=_cmd_reduce_plan)

    p = rsub.add_parser("night", help="reduce every frame under RAWDIR on a Dask cluster")
    p.add_argument("rawdir")
    p.add_argument("--out", required=True, help="where the products go")
    p.add_argument("--engine", default="builtin",
                   help="builtin (default), builtin@VERSION, 2dfdr, 2dfdr-docker[@TAG]")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                   help="a 2dFdr option (or the form's short name); repeatable")  # fmt: skip
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default 2; not with HECTORNB_DASK_SCHEDULER)")
    p.set_defaults(func=_cmd_reduce_night)

    p = rsub.add_parser("options", help="the reduction options, defaults and meaning")
    p.set_defaults(func=_cmd_reduce_options)
    from .reduce import add_commands

    p = _group(sub, "spectra", "reduced spectra").add_parser(
        "pdf", help="every spectrum of a 2dfdr product in a PDF (8 a page)"
    )
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_spectra_pdf)

    add_commands(sub, rsub, _user_arg)
    from .obslog import add_commands as add_obslog_commands

    add_obslog_commands(sub, _user_arg)
    from .tap import add_commands as add_tap_commands

    add_tap_commands(sub, _user_arg)

    tsub = _group(sub, "targets", "target lists and classifications")

    p = tsub.add_parser("validate", help="check a target file; report every error")
    p.add_argument("file")
    p.set_defaults(func=_cmd_targets_validate)

    p = tsub.add_parser("import", help="validate and store a target file")
    p.add_argument("file")
    p.add_argument("--name", help="list name (default: the file name without suffix)")
    p.add_argument("--overwrite", action="store_true", help="replace a list of the same name")
    _user_arg(p)
    p.set_defaults(func=_cmd_targets_import)

    p = tsub.add_parser("lists", help="the stored target lists")
    p.set_defaults(func=_cmd_targets_lists)

    p = tsub.add_parser("delete", help="delete a target list (its history is kept)")
    p.add_argument("name")
    _user_arg(p)
    p.set_defaults(func=_cmd_targets_delete)

    p = tsub.add_parser("classify", help="set a target's BADCLASS (0–8)")
    p.add_argument("name")
    p.add_argument("target")
    p.add_argument("badclass")
    _user_arg(p)
    p.set_defaults(func=_cmd_targets_classify)

    p = tsub.add_parser("export", help="write a list with its classifications as CSV")
    p.add_argument("name")
    p.add_argument("-o", "--output")
    p.add_argument(
        "--per-user", action="store_true", help="add one badclass:<user> column per classifier"
    )
    p.set_defaults(func=_cmd_targets_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import HectornbError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HectornbError as exc:  # anything else is the platform's fault: its traceback shows
        print(f"error: {exc}", file=sys.stderr)
        return 1

