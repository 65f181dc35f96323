"""``hectornb reduce …``, ``hectornb spectra pdf`` and ``hectornb programme``: reducing raw
frames, here on a Dask cluster (``plan``, ``night``, ``options``) or through the Reduce
service the REST API and the app use (``submit``, ``status``, ``list``, ``cancel``,
``download``, ``watch``, ``runner``); comparing two reductions of a frame (regression
testing); the reduced spectra as a PDF; and the observing programmes, whose members alone
may reduce their frames while the data are proprietary.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import acting_user, add_engine_arguments, add_user_argument, command_group
from .archive import index_raw_frames

if TYPE_CHECKING:
    from ..reduce.run import StepResult
    from ..reduce.session import LocalReduce, RemoteReduce
    from ..reduce.store import Reduction
    from . import Commands


# ---- on this machine ----------------------------------------------------------------------


def _cmd_plan(args: argparse.Namespace) -> int:
    from ..reduce import describe_plan, plan_night

    frame, _ = index_raw_frames(args.rawdir)
    groups = plan_night(frame)
    if not groups:
        print(f"error: no object frames (MFOBJECT) under {args.rawdir}", file=sys.stderr)
        return 1
    print(describe_plan(groups))
    return 0 if all(g.ok for g in groups) else 1


def _progress(result: StepResult, done: int, total: int) -> None:
    """One line per finished step; on a terminal a bar that redraws in place."""
    if sys.stderr.isatty():
        bar = "#" * (30 * done // total)
        print(
            f"\r[{bar:<30}] {done}/{total} {result.step.describe()[:60]:<60}",
            end="\n" if done == total else "",
            file=sys.stderr,
            flush=True,
        )
        if result.status != "done":
            print(f"\n{result.describe()}", file=sys.stderr)
    else:
        print(f"[{done}/{total}] {result.describe()}", file=sys.stderr, flush=True)


def _cmd_night(args: argparse.Namespace) -> int:
    from ..errors import HectornbError
    from ..reduce.options import parse_pairs
    from ..reduce.run import reduce_night

    try:
        options = parse_pairs(args.option)
        run = reduce_night(
            args.rawdir,
            args.out,
            engine=args.engine,
            options=options,
            workers=args.workers,
            on_result=_progress,
        )
    except (HectornbError, FileNotFoundError) as exc:  # an unknown option or engine, no frames
        # exit code 2, not main's 1: the night was not started, as for a usage error
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for problem in run.problems:
        print(f"not reduced: {problem}", file=sys.stderr)
    failures = run.failures()
    for result in failures:
        print(result.describe(), file=sys.stderr)
    done = len(run.results) - len(failures)
    print(
        f"{done} of {len(run.results)} steps done in {run.seconds:.1f} s; "
        f"products under {Path(args.out).resolve()}"
    )
    for kind in ("reduce_object", "combine_image", "splice"):
        paths = run.products(kind)
        if paths:
            print(f"  {kind}: {len(paths)} files, e.g. {paths[0]}")
    return 0 if run.ok else 1


def _cmd_options(args: argparse.Namespace) -> int:
    from ..reduce.options import FORM_NAMES, OPTIONS

    form = {v: k for k, v in FORM_NAMES.items()}
    for o in OPTIONS.values():
        alias = f" (form: {form[o.name]})" if o.name in form else ""
        values = "|".join(o.choices) if o.choices else "number"
        print(f"{o.name}={o.default}  [{values}]{alias}\n    {o.help}")
    return 0


def _cmd_engines(args: argparse.Namespace) -> int:
    engines, unavailable = _session(args).engine_choices()
    for engine in engines:
        print(engine)
    for name, why in unavailable.items():
        print(f"({name}: not here: {why})", file=sys.stderr)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..reduce.compare import compare_products, summarise

    try:
        table = compare_products(args.a, args.b)
    except OSError as exc:  # no such file, or not FITS; main says any other refusal
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in summarise(table):
        print(line)
    if args.csv:
        table.write(args.csv, format="ascii.csv", overwrite=True)
        print(f"per fibre: {args.csv}")
    return 0


# ---- through the Reduce service -----------------------------------------------------------


def _session(args: argparse.Namespace) -> LocalReduce | RemoteReduce:
    """The Reduce service for the command's user: here, or the data centre's service (which
    knows its caller from the token and lets no one act as another)."""
    from ..errors import Forbidden
    from ..reduce.session import reduce_session

    session = reduce_session(acting_user(args))
    if session.user != acting_user(args):
        raise Forbidden(
            f"the hectornb service knows you as {session.user}; you cannot act "
            f"as {acting_user(args)}"
        )
    return session


def _show(job: Reduction) -> None:
    print(
        f"{job.id}  {job.status:<10} {job.steps_done}/{job.steps_total} steps ended  "
        f"{len(job.frames)} frames  {job.created:%Y-%m-%d %H:%M %Z}  {job.message}"
    )


def _cmd_submit(args: argparse.Namespace) -> int:
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
    job = _session(args).submit(
        frames,
        parse_pairs(args.option),
        args.email,
        args.engine,
        night_from,
        night_to or night_from,
    )
    print(f"request {job.id}: {len(job.frames)} object frames queued")
    if not args.wait:
        return 0
    return _wait(job.id, _session(args))


def _wait(job_id: str, session: LocalReduce | RemoteReduce) -> int:
    from ..reduce.runner import ensure_runner
    from ..reduce.session import LocalReduce

    if isinstance(session, LocalReduce):
        ensure_runner()
    seen = 0
    while True:
        for event in session.events(job_id, seen):
            seen = event["seq"]
            print(
                f"{event['at']:%H:%M:%S %Z} {event['kind']:<9} {event['message']}", file=sys.stderr
            )
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


def _cmd_watch(args: argparse.Namespace) -> int:
    from ..reduce.live import Watcher
    from ..reduce.options import parse_pairs
    from ..reduce.runner import ensure_runner

    watcher = Watcher(Path(args.rawdir), acting_user(args), parse_pairs(args.option), args.engine)
    ensure_runner()
    print(f"watching {args.rawdir} every {args.interval:g} s (Ctrl-C stops)", flush=True)

    def show(job: Reduction) -> None:
        print(f"request {job.id}: {', '.join(Path(f).name for f in job.frames)}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        watcher.run(args.interval, show)
    return 0


def _cmd_runner(args: argparse.Namespace) -> int:
    from ..reduce.runner import ReductionRunner

    runner = ReductionRunner(max_jobs=args.max_jobs)
    print(f"runner {runner.name}: waiting for reduction requests", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        runner.run_forever()
    return 0


# ---- reduced spectra, and who may reduce which frames -------------------------------------


def _cmd_spectra_pdf(args: argparse.Namespace) -> int:
    from ..errors import HectornbError
    from ..spectra.pdf import spectra_pdf

    try:
        out = spectra_pdf(args.file, args.output)
    except (OSError, HectornbError) as exc:  # told with the file's name, unlike main's
        print(f"error: {args.file}: {exc}", file=sys.stderr)
        return 1
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _cmd_spectra_publish(args: argparse.Namespace) -> int:
    from ..spectra.index import SpectrumIndex

    n, problems = SpectrumIndex().add_written()
    for problem in problems:
        print(f"not published: {problem}", file=sys.stderr)
    print(f"{n} spectra in ObsCore, SSA and DataLink")
    return 1 if problems else 0


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


def add_commands(sub: Commands) -> None:
    """Register ``reduce``, ``spectra`` and ``programme`` on the main parser's sub-commands."""
    rsub = command_group(sub, "reduce", "reductions")
    p = rsub.add_parser("plan", help="groups and calibrations for the frames under RAWDIR")
    p.add_argument("rawdir")
    p.set_defaults(func=_cmd_plan)

    p = rsub.add_parser("night", help="reduce every frame under RAWDIR on a Dask cluster")
    p.add_argument("rawdir")
    p.add_argument("--out", required=True, help="where the products go")
    add_engine_arguments(p)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes (default 2; not with HECTORNB_DASK_SCHEDULER)",
    )
    p.set_defaults(func=_cmd_night)

    p = rsub.add_parser("options", help="the reduction options, defaults and meaning")
    p.set_defaults(func=_cmd_options)

    p = rsub.add_parser(
        "engines", help="the engines --engine may name here (NAME[@VERSION]), the default first"
    )
    add_user_argument(p)
    p.set_defaults(func=_cmd_engines)

    p = rsub.add_parser("submit", help="queue a reduction with the Reduce service")
    p.add_argument("paths", nargs="*", help="raw frames (or directories of them) to reduce")
    p.add_argument(
        "--night",
        help="every object frame of a night (yymmdd or YYYY-MM-DD), or "
        "of nights A:B, that you may reduce",
    )
    add_engine_arguments(p)
    p.add_argument("--email", default=None, help="e-mail at start and end")
    p.add_argument("--wait", action="store_true", help="follow it to the end")
    add_user_argument(p)
    p.set_defaults(func=_cmd_submit)
    for name, func, helptext in (
        ("status", _cmd_status, "a request's state and steps"),
        ("cancel", _cmd_cancel, "stop a request"),
    ):
        p = rsub.add_parser(name, help=helptext)
        p.add_argument("id")
        add_user_argument(p)
        p.set_defaults(func=func)
    p = rsub.add_parser("list", help="your requests of the last days")
    p.add_argument("--days", type=float, default=7.0)
    add_user_argument(p)
    p.set_defaults(func=_cmd_list)
    p = rsub.add_parser("download", help="a finished request's files as a zip")
    p.add_argument("id")
    p.add_argument("--what", choices=("reduced", "raw", "all"), default="reduced")
    p.add_argument("-o", "--output", required=True)
    add_user_argument(p)
    p.set_defaults(func=_cmd_download)
    p = rsub.add_parser(
        "compare",
        help="per-fibre flux and wavelength differences of two "
        "reductions of one frame (regression testing)",
    )
    p.add_argument("a", help="the reference product (…red.fits)")
    p.add_argument("b", help="the product to compare with it")
    p.add_argument("--csv", help="write the per-fibre table here")
    p.set_defaults(func=_cmd_compare)
    p = rsub.add_parser("watch", help="reduce frames as they land in RAWDIR (live)")
    p.add_argument("rawdir")
    p.add_argument("--interval", type=float, default=10.0, help="seconds between looks")
    add_engine_arguments(p)
    add_user_argument(p)
    p.set_defaults(func=_cmd_watch)
    p = rsub.add_parser("runner", help="run queued requests (a data centre's service)")
    p.add_argument("--max-jobs", type=int, default=4)
    p.set_defaults(func=_cmd_runner)

    ssub = command_group(sub, "spectra", "reduced spectra")
    p = ssub.add_parser("pdf", help="every spectrum of a 2dfdr product in a PDF (8 a page)")
    p.add_argument("file")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_spectra_pdf)
    p = ssub.add_parser(
        "publish",
        help="describe every product the Reduce service has written in ObsCore, SSA and "
        "DataLink (new products are, as they are written; this is for older ones)",
    )
    p.set_defaults(func=_cmd_spectra_publish)

    psub = command_group(sub, "programme", "programmes and who may see their frames")
    p = psub.add_parser("set", help="create or update a programme, add members")
    p.add_argument("aaoprgid")
    p.add_argument("--member", action="append", default=[])
    p.add_argument("--public-from", default=None, help="YYYY-MM-DD: public from that day")
    p.add_argument("--title", default=None)
    p.set_defaults(func=_cmd_programme_set)
    p = psub.add_parser("list", help="every programme")
    p.set_defaults(func=_cmd_programme_list)
