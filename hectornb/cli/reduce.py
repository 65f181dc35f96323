"""``hectornb reduce submit|status|list|cancel|download|watch|runner|compare`` and ``hectornb
programme``: the Reduce service from the command line (the same service the REST API and
the app use), and the regression comparison of two products.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from ..identity import process_user


def _user(args: argparse.Namespace) -> str:
    return args.user or process_user()


def _session(args: argparse.Namespace):
    """The Reduce service for the command's user: here, or the data centre's service (which
    knows its caller from the token and lets no one act as another)."""
    from ..errors import Forbidden
    from ..reduce.session import reduce_session

    session = reduce_session(_user(args))
    if session.user != _user(args):
        raise Forbidden(f"the hectornb service knows you as {session.user}; you cannot act "
                        f"as {_user(args)}")  # fmt: skip
    return session


def _show(job) -> None:
    print(f"{job.id}  {job.status:<10} {job.steps_done}/{job.steps_total} steps  "
          f"{len(job.frames)} frames  {job.created:%Y-%m-%d %H:%M %Z}  {job.message}")  # fmt: skip


def _cmd_submit(args: argparse.Namespace) -> int:
    from ..errors import HectornbError
    from ..reduce.options import parse_pairs

    frames, night_from, night_to = None, None, None
    if args.night:
        night_from, _, night_to = args.night.partition(":")
    else:
        frames = []
        for path in args.paths:
            if Path(path).is_dir():
                from ..reduce import index_directory, store_index

                found, _ = index_directory(path)
                store_index(found)
                frames += list(found.loc[found["ndfclass"] == "MFOBJECT", "path"])
            else:
                frames.append(str(Path(path).resolve()) if Path(path).exists() else path)
    try:
        job = _session(args).submit(frames, parse_pairs(args.option), args.email, args.engine,
                                    night_from, night_to or night_from)  # fmt: skip
    except HectornbError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"request {job.id}: {len(job.frames)} object frames queued")
    if not args.wait:
        return 0
    return _wait(job.id, _session(args))


def _wait(job_id: str, session) -> int:
    from ..reduce.service import ensure_runner
    from ..reduce.session import LocalReduce

    if isinstance(session, LocalReduce):
        ensure_runner()
    seen = 0
    while True:
        for event in session.events(job_id, seen):
            seen = event["seq"]
            print(f"{event['at']:%H:%M:%S %Z} {event['kind']:<9} {event['message']}",
                  file=sys.stderr)
        job = session.job(job_id)
        if job.final:
            _show(job)
            print(f"products under {job.outdir}")
            return 0 if job.status == "done" else 1
        time.sleep(0.5)


def _cmd_status(args: argparse.Namespace) -> int:
    session = _session(args)
    _show(session.job(args.id))
    for step in session.steps(args.id):
        reason = f": {step['reason']}" if step["reason"] else ""
        print(f"  {step['status']:<9} {step['task']} {step['frame']} {step['arm']}{reason}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for job in _session(args).jobs(args.days):
        _show(job)
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    _show(_session(args).cancel(args.id))
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    out = _session(args).download(args.id, args.what, Path(args.output))
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..errors import HectornbError
    from ..reduce.compare import compare_products, summarise

    try:
        table = compare_products(args.a, args.b)
    except (OSError, HectornbError) as exc:  # no such file, or not two products of a frame
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in summarise(table):
        print(line)
    if args.csv:
        table.write(args.csv, format="ascii.csv", overwrite=True)
        print(f"per fibre: {args.csv}")
    return 0


def _cmd_watch(args: argparse.Namespace) -> int:
    from ..reduce.live import Watcher
    from ..reduce.options import parse_pairs
    from ..reduce.service import ensure_runner

    watcher = Watcher(Path(args.rawdir), _user(args), parse_pairs(args.option), args.engine)
    ensure_runner()
    print(f"watching {args.rawdir} every {args.interval:g} s (Ctrl-C stops)", flush=True)

    def show(job) -> None:
        print(f"request {job.id}: {', '.join(Path(f).name for f in job.frames)}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        watcher.run(args.interval, show)
    return 0


def _cmd_runner(args: argparse.Namespace) -> int:
    from ..reduce.service import JobRunner

    runner = JobRunner(max_jobs=args.max_jobs)
    print(f"runner {runner.name}: waiting for reduction requests", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        runner.run_forever()
    return 0


def _cmd_programme_set(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..reduce.access import set_programme

    public = dt.date.fromisoformat(args.public_from) if args.public_from else None
    set_programme(args.aaoprgid, public, args.title or "", tuple(args.member))
    return _cmd_programme_list(args)


def _cmd_programme_list(args: argparse.Namespace) -> int:
    from ..reduce.access import programmes

    for p in programmes():
        public = f"public from {p['public_from']}" if p["public_from"] else "proprietary"
        print(f"{p['aaoprgid']:<16} {public:<24} members: {', '.join(p['members']) or '-'}")
    return 0


def add_commands(sub, rsub, user_arg) -> None:
    """Register the commands on the main parser's sub-commands ``sub`` and the ``reduce``
    group's ``rsub``; ``user_arg`` adds ``--user``."""
    p = rsub.add_parser("submit", help="queue a reduction with the Reduce service")
    p.add_argument("paths", nargs="*", help="raw frames (or directories of them) to reduce")
    p.add_argument("--night", help="every object frame of a night (yymmdd or YYYY-MM-DD), or "
                   "of nights A:B, that you may reduce")
    p.add_argument("--engine", default="builtin",
                   help="builtin (default), builtin@VERSION, 2dfdr, 2dfdr-docker[@TAG]")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--email", default=None, help="e-mail at start and end")
    p.add_argument("--wait", action="store_true", help="follow it to the end")
    user_arg(p)
    p.set_defaults(func=_cmd_submit)
    for name, func, helptext in (("status", _cmd_status, "a request's state and steps"),
                                 ("cancel", _cmd_cancel, "stop a request")):  # fmt: skip
        p = rsub.add_parser(name, help=helptext)
        p.add_argument("id")
        user_arg(p)
        p.set_defaults(func=func)
    p = rsub.add_parser("list", help="your requests of the last days")
    p.add_argument("--days", type=float, default=7.0)
    user_arg(p)
    p.set_defaults(func=_cmd_list)
    p = rsub.add_parser("download", help="a finished request's files as a zip")
    p.add_argument("id")
    p.add_argument("--what", choices=("reduced", "raw", "all"), default="reduced")
    p.add_argument("-o", "--output", required=True)
    user_arg(p)
    p.set_defaults(func=_cmd_download)
    p = rsub.add_parser("compare", help="per-fibre flux and wavelength differences of two "
                        "reductions of one frame (regression testing)")  # fmt: skip
    p.add_argument("a", help="the reference product (…red.fits)")
    p.add_argument("b", help="the product to compare with it")
    p.add_argument("--csv", help="write the per-fibre table here")
    p.set_defaults(func=_cmd_compare)
    p = rsub.add_parser("watch", help="reduce frames as they land in RAWDIR (live)")
    p.add_argument("rawdir")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between looks")
    p.add_argument("--engine", default="builtin")
    p.add_argument("--option", action="append", default=[], metavar="NAME=VALUE")
    user_arg(p)
    p.set_defaults(func=_cmd_watch)
    p = rsub.add_parser("runner", help="run queued requests (a data centre's service)")
    p.add_argument("--max-jobs", type=int, default=4)
    p.set_defaults(func=_cmd_runner)

    psub = sub.add_parser("programme", help="programmes and who may see their frames")
    psub = psub.add_subparsers(dest="programme_command", required=True)
    p = psub.add_parser("set", help="create or update a programme, add members")
    p.add_argument("aaoprgid")
    p.add_argument("--member", action="append", default=[])
    p.add_argument("--public-from", default=None, help="YYYY-MM-DD: public from that day")
    p.add_argument("--title", default=None)
    p.set_defaults(func=_cmd_programme_set)
    p = psub.add_parser("list", help="every programme")
    p.set_defaults(func=_cmd_programme_list)
