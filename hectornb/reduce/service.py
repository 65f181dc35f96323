"""The Reduce service (Pipeline as a Web Service): requests in, products out.

`submit` checks a request (frames the user may reduce, options the engine knows) and
queues it as a job in PostgreSQL, where a `hectornb.reduce.runner.ReductionRunner` takes it
up. `package` zips a job's products with the log of every command; `product_pdf` draws a
product's spectra.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import re
import threading
import zipfile
from pathlib import Path

from .. import __version__
from ..config import Settings, get_settings
from ..db import engine as db
from ..errors import Forbidden, Invalid
from ..instrument import night_date, night_dir
from . import access
from .engines import engine_version, parse_engine
from .options import OptionError, non_defaults, resolve
from .store import Reduction, ReductionStore

log = logging.getLogger(__name__)

#: What `package` puts in a zip: PAWS's three downloads.
DOWNLOADS = {
    "reduced": "Reduced files",
    "raw": "Reduced and raw files",
    "all": "All files",
}
#: The steps whose outputs are a request's products (the rest are calibrations).
PRODUCT_TASKS = ("reduce_object", "combine_image", "splice")


# one address: local part and domain without spaces, commas, semicolons, angle brackets
_EMAIL = re.compile(r"[^@\s,;<>\"()]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253})\.[A-Za-z]{2,63}")


def submit(
    user: str,
    frames: list[str] | None = None,
    night_from: str | None = None,
    night_to: str | None = None,
    options: dict | None = None,
    engine: str = "builtin",
    email: str | None = None,
    settings: Settings | None = None,
) -> Reduction:
    """Queue a reduction of ``frames`` (paths or file names from the archive index), or of
    every object frame of nights ``night_from``..``night_to`` the user may reduce.

    Raises `Invalid` (unknown frames or options, nothing to reduce) or `Forbidden`
    (frames of a programme the user is not a member of, before it is public).
    """
    settings = settings or get_settings()
    try:
        known, _ = parse_engine(engine)
        first, last = (night_date(n) if n else None for n in (night_from, night_to))
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if first and last and last < first:
        raise Invalid(f"the last night ({last:%Y-%m-%d}) is before the first ({first:%Y-%m-%d})")
    night_from, night_to = (night_dir(d) if d else None for d in (first, last))
    try:
        resolved = resolve(options or {}, engine)
    except OptionError as exc:
        raise Invalid(str(exc)) from None
    if email is not None and email != "" and not _EMAIL.fullmatch(email):
        # one address: a list ("a@x,b@y") would make the site's mail relay anyone's
        raise Invalid(f"not one e-mail address: {email!r}")
    objects = _object_frames(user, frames, night_from, night_to, settings)
    if problem := engine_problem(engine, settings):
        raise Invalid(problem)
    if not known.own_options:
        _check_idx_files(objects, resolved, settings)
    identity = json.dumps(
        {"engine": engine_version(engine, __version__), "options": resolved, "frames": objects},
        sort_keys=True,
    )
    same_as = hashlib.sha256(identity.encode()).hexdigest()
    outdir = settings.home / "reduce" / same_as[:16]  # runners serve their home's jobs
    return ReductionStore(settings).create(
        user, objects, engine, resolved, email or None, same_as, str(outdir)
    )


def engine_problem(engine: str, settings: Settings | None = None) -> str:
    """Why ``engine`` cannot run on this platform now, as a refused request says it (""
    when it can, or when ``engine`` names no engine at all, which `submit` says)."""
    try:
        known, version = parse_engine(engine)
    except Invalid:
        return ""
    problem = known.problem(version, settings or get_settings())
    return f"engine {engine!r}: {problem}" if problem else ""


def _check_idx_files(objects: list[str], options: dict, settings: Settings) -> None:
    """A 2dFdr engine's idx files for the gratings of the request: said now rather than
    by the first step of an arm without one."""
    from .tdfdr import idx_problem

    with db.connect(settings) as conn:
        rows = conn.execute(
            "SELECT DISTINCT grating FROM raw_frame WHERE path = ANY(%s)", (objects,)
        ).fetchall()
    if problem := idx_problem({r["grating"] for r in rows}, options):
        raise Invalid(problem)


def _object_frames(
    user: str,
    frames: list[str] | None,
    night_from: str | None,
    night_to: str | None,
    settings: Settings,
) -> list[str]:
    """The object frames of a request, as indexed paths, checked for access."""
    with db.connect(settings) as conn:
        if frames:
            names = [str(f) for f in frames]
            rows = conn.execute(
                "SELECT path, file, ndfclass FROM raw_frame WHERE path = ANY(%s) OR file = ANY(%s)",
                (names, names),
            ).fetchall()
            known = {r["path"] for r in rows} | {r["file"] for r in rows}
            unknown = [f for f in names if f not in known]
            if unknown:
                more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
                raise Invalid(f"not in the archive index: {', '.join(unknown[:10])}{more}")
            paths_of = collections.defaultdict(set)
            for r in rows:
                paths_of[r["file"]].add(r["path"])
            ambiguous = [f for f in names if len(paths_of.get(f, ())) > 1]
            if ambiguous:
                raise Invalid(
                    f"{ambiguous[0]} is indexed at {len(paths_of[ambiguous[0]])} "
                    "places: give its path"
                )
        elif night_from or night_to:
            # one frame per file name: the latest indexed copy of a night indexed twice
            rows = conn.execute(
                "SELECT DISTINCT ON (file) path, file, ndfclass FROM raw_frame"
                " WHERE ndfclass = 'MFOBJECT' AND night BETWEEN %s AND %s"
                f" AND {access.VISIBLE} ORDER BY file, indexed_at DESC",
                (night_from or "000000", night_to or night_from or "999999", user),
            ).fetchall()
        else:
            raise Invalid("give frames, or a night range")
    objects = sorted({r["path"] for r in rows if r["ndfclass"] == "MFOBJECT"})
    if not objects and (night_from or night_to):
        _no_night_objects(settings, user, night_from, night_to or night_from)
    if not objects:
        raise Invalid(
            "no object frames (MFOBJECT) to reduce: calibrations are chosen "
            "automatically and need no selecting"
        )
    refused = access.refused(user, objects, settings)
    if refused:
        names = ", ".join(Path(p).name for p in refused[:10])
        raise Forbidden(
            f"{len(refused)} frames belong to programmes you are not a member "
            f"of and are not public yet: {names}"
        )
    return objects


def _no_night_objects(
    settings: Settings, user: str, night_from: str | None, night_to: str | None
) -> None:
    """Why a night range has nothing the user may reduce: its object frames belong to
    programmes the user is not a member of (`Forbidden`, naming them and how to be added),
    or it has none at all (`Invalid`, naming the nights the archive has)."""
    lo, hi = night_from or "000000", night_to or night_from or "999999"
    nights = f"night {lo}" if lo == hi else f"nights {lo}–{hi}"
    with db.connect(settings) as conn:
        hidden = conn.execute(
            "SELECT aaoprgid, count(DISTINCT file) AS n FROM raw_frame"
            " WHERE ndfclass = 'MFOBJECT' AND night BETWEEN %s AND %s GROUP BY aaoprgid"
            " ORDER BY aaoprgid",
            (lo, hi),
        ).fetchall()
        if hidden:
            names = ", ".join(f"{r['aaoprgid'] or '(none)'} ({r['n']} frames)" for r in hidden)
            first = hidden[0]["aaoprgid"] or "PROGRAMME"
            raise Forbidden(
                f"{nights}: the object frames belong to programmes you ({user}) are not a "
                f"member of and that are not public yet: {names}. A data manager can add you: "
                f"hectornb programme set {first} --member {user}"
            )
        latest = [
            r["night"]
            for r in conn.execute(
                "SELECT DISTINCT night FROM raw_frame WHERE ndfclass = 'MFOBJECT'"
                " ORDER BY night DESC LIMIT 5"
            ).fetchall()
        ]
    known = (
        f"; the archive's latest nights with object frames: {', '.join(latest)}"
        if latest
        else "; the archive index has no object frames at all"
    )
    raise Invalid(f"no object frames (MFOBJECT) on {nights}{known}")


def products(job: Reduction, steps: list[dict]) -> list[tuple[str, Path]]:
    """A finished request's products (object frames, combined, spliced) as (path relative
    to the request's folder, as PAWS lists them, and path), in the plan's order."""
    outdir = Path(job.outdir)
    return [
        (str(Path(s["output"]).relative_to(outdir)), Path(s["output"]))
        for s in steps
        if s["status"] == "done" and s["task"] in PRODUCT_TASKS
    ]


def package(job: Reduction, steps: list[dict], what: str, dest: Path) -> Path:
    """Zip a job's products into ``dest``: ``reduced`` (object frames, combined and
    spliced), ``raw`` (those and the raw frames they came from, calibrations included) or
    ``all`` (every file the reduction wrote, and the raw frames); each with a PDF of every
    spectrum of every product (``<product>.pdf``, drawn on the cluster during the reduction,
    or at the first download when that failed),
    ``log.txt`` (every command, its outcome and output) and ``plan.json``."""
    if what not in DOWNLOADS:
        raise Invalid(f"what must be one of {', '.join(DOWNLOADS)}, not {what!r}")
    outdir = Path(job.outdir)
    done = [s for s in steps if s["status"] == "done"]
    files: dict[str, Path] = {}
    for s in done:
        if s["task"] in PRODUCT_TASKS or what == "all":
            path = Path(s["output"])
            files[str(path.relative_to(outdir))] = path
    if what in ("raw", "all"):
        for raw in map(Path, _raw_inputs(job)):
            files[f"raw/{raw.parent.parent.name}/{raw.parent.name}/{raw.name}"] = raw
    log = "\n".join(
        f"[{s['seq'] + 1}] {s['status']} {s['task']} {s['frame']} ({s['arm']})"
        + (f": {s['reason']}" if s["reason"] else "")
        + ("\n" + s["log"] if s["log"] else "")
        for s in steps
    )
    for _, path in products(job, steps):  # every spectrum on paper, drawn once and kept
        drawn = product_pdf(path)
        files[str(drawn.relative_to(outdir))] = drawn
    tmp = dest.with_name(dest.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, path in sorted(files.items()):
            if path.exists():
                zf.write(path, name)
        zf.writestr(
            "log.txt", f"Reduction request {job.id} ({job.status}): {job.message}\n\n" + log + "\n"
        )
        zf.writestr("plan.json", json.dumps(job.plan or {}, indent=1, default=str))
    tmp.replace(dest)
    return dest


#: One PDF drawn at a time in a process (matplotlib is not thread-safe, and a drawing of a
#: large product takes seconds and hundreds of MB); a product's PDF is drawn once.
_DRAWING = threading.Lock()


def product_pdf(path: Path) -> Path:
    """The PDF of every spectrum of a product, beside it (or, where the product's folder
    cannot be written, in ``HECTORNB_HOME/pdf``); drawn again only when the product is
    newer. Callers that arrive while it is drawn wait for that drawing."""
    path = Path(path)
    drawn = path.with_suffix(".pdf")
    if not os.access(path.parent, os.W_OK):
        key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
        drawn = get_settings().home / "pdf" / f"{path.stem}-{key}.pdf"
        drawn.parent.mkdir(parents=True, exist_ok=True)

    def fresh() -> bool:
        return drawn.exists() and drawn.stat().st_mtime >= path.stat().st_mtime

    if fresh():
        return drawn
    with _DRAWING:
        if fresh():  # drawn while this caller waited
            return drawn
        from ..spectra.pdf import spectra_pdf  # matplotlib: only when a PDF is drawn

        # drawn aside and moved in whole: a download never packs a half-written PDF
        part = drawn.with_name(f".{drawn.name}.{os.getpid()}.{threading.get_ident()}.part")
        try:
            spectra_pdf(path, part)
            part.replace(drawn)
        finally:
            part.unlink(missing_ok=True)
    return drawn


def _raw_inputs(job: Reduction) -> list[str]:
    """Raw frames the job read: its object frames and the calibrations the plan chose."""
    plan = job.plan or {}
    raws = set(job.frames)
    by_file = {}
    with db.connect() as conn:
        rows = conn.execute(
            "SELECT file, path FROM raw_frame WHERE night IN (SELECT night"
            " FROM raw_frame WHERE path = ANY(%s))",
            (job.frames,),
        )
        for row in rows:
            by_file[row["file"]] = row["path"]
    for group in plan.get("groups", []):
        for choice in group.get("calibrations", {}).values():
            raws.update(by_file[f] for f in choice["files"] if f in by_file)
    return sorted(raws)


__all__ = [
    "DOWNLOADS",
    "PRODUCT_TASKS",
    "non_defaults",
    "package",
    "product_pdf",
    "products",
    "submit",
]
