"""The ``2dfdr`` and ``2dfdr-docker`` engines: the same steps run by AAO's 2dFdr.

Each step becomes the ``aaorun`` command lines the SAMI/Hector managers use:
``aaorun <task> <file> -idxfile <grating idx> -OUT_DIRNAME <dir> [-NAME VALUE …]``, run in a
private working directory with its own ``IMP_SCRATCH`` (2dFdr instances sharing one clash),
the raw files linked in. 2dFdr's return code is not trusted: a command has succeeded when
its output says so (``Action "EXIT", Task <t>, completed`` in v6.28+, ``Data Reduction
command <t> completed.`` before) and the product exists; the product is then moved into
place atomically. ``2dfdr`` runs ``aaorun`` from ``PATH``; ``2dfdr-docker`` runs each
command in its own container of ``HECTORNB_2DFDR_IMAGE`` through docker-py (`containers`),
with the working directory read-write and the step's input files read-only.

A command that crashed (a non-zero exit without 2dFdr's completion line) raises a
`StepError` that the runner retries in a fresh container; one killed at its time limit
(``HECTORNB_STEP_TIMEOUT``) or for its memory, or one that ended without its product, fails
its step at once, naming the step and quoting the end of the command's output.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings, get_settings
from .engines import Attempt
from .errors import DataError, StepError
from .options import idx_files
from .steps import Step

# idx files shipped with 2dFdr, per grating; Hector's AAOmega arm (SAMI/Hector managers)
IDX_FILES = {"580V": "hector1_v4.idx", "1000R": "hector2_v4.idx"}
# at the start of a line (after punctuation at most), so that an option value 2dFdr
# echoes inside a line of its own can never pass for it
COMPLETED = (
    re.compile(r'^[^\w"]*Action "EXIT", Task (\S+), completed', re.MULTILINE),
    re.compile(r"^[^\w\"]*Data Reduction command (\S+) completed\.", re.MULTILINE),
)
# options that only the built-in engine understands
_BUILTIN_ONLY = {"CRSIG"}
_CALIBRATION_ARGS = {
    "tlm": "TLMAP_FILENAME",
    "arc": "WAVEL_FILENAME",
    "fflat": "FFLAT_FILENAME",
    "bias": "BIAS_FILENAME",
    "dark": "DARK_FILENAME",
}


class TdfdrError(StepError):
    """2dFdr did not complete a command; the message quotes the end of its output."""


@dataclass(frozen=True)
class Command:
    """One ``aaorun`` invocation and the file it must leave in the working directory."""

    argv: tuple[str, ...]
    product: str  # file name 2dFdr writes in OUT_DIRNAME

    def shell(self) -> str:
        return " ".join(a if re.fullmatch(r"[\w./:=+-]+", a) else repr(a) for a in self.argv)


# how a request gives idx files, said when one is missing
_IDX_FORM = "<file.idx> (every arm) or IDXFILE=<grating>:<file.idx>,… (one per grating)"


def _idx_by_grating(options: Mapping[str, str]) -> dict[str, str]:
    """Each grating's idx file: those ``IDXFILE`` names (``""``: every grating) over the
    ones 2dFdr ships."""
    given = idx_files(str(options["IDXFILE"])) if options.get("IDXFILE") else {}
    return {**IDX_FILES, **given}


def idx_file(step: Step, options: Mapping[str, str]) -> str:
    """The idx file for a step: the one ``IDXFILE`` gives it (for every grating, or for
    the step's), else the one 2dFdr ships for its grating."""
    chosen = _idx_by_grating(options)
    idx = chosen.get("") or chosen.get(step.grating)
    if idx is None:
        raise DataError(
            f"{step.describe()}: no 2dFdr idx file known for grating "
            f"{step.grating or '(none)'}; give one with --option IDXFILE={_IDX_FORM}"
        )
    return idx


def idx_problem(gratings: set[str], options: Mapping[str, str]) -> str:
    """Why a request of frames of ``gratings`` has no idx file for some ("" when each has
    one: 2dFdr's own, or the one ``IDXFILE`` names for it or for every grating)."""
    chosen = _idx_by_grating(options)
    if "" in chosen:
        return ""
    missing = sorted({g or "(none)" for g in gratings} - set(chosen))
    if not missing:
        return ""
    known = ", ".join(f"{g} ({f})" for g, f in IDX_FILES.items())
    return (
        f"no 2dFdr idx file is known for grating {', '.join(missing)} of these frames "
        f"(known: {known}): give one with the option IDXFILE={_IDX_FORM}"
    )


def _params(options: Mapping[str, str]) -> list[str]:
    out = []
    for name, value in options.items():
        if name in _BUILTIN_ONLY or name == "IDXFILE":
            continue
        out += [f"-{name}", str(value)]
    return out


def commands(step: Step, options: Mapping[str, str], idx: str) -> list[Command]:
    """The ``aaorun`` commands for ``step``, in order (file names relative to the work dir)."""
    name = Path(step.output).name
    base = ["-idxfile", idx, "-OUT_DIRNAME", "."]
    if step.task in ("combine_bias", "combine_dark"):
        kind = step.task.split("_")[1]
        reduced = [f"{Path(f).stem}red.fits" for f in step.inputs["frames"]]
        extra = (
            ["-BIAS_FILENAME", Path(step.inputs["bias"]).name, "-USEBIASIM", "1"]
            if "bias" in step.inputs
            else []
        )
        out = [
            Command(("aaorun", f"reduce_{kind}", Path(f).name, *base, *extra), r)
            for f, r in zip(step.inputs["frames"], reduced, strict=True)
        ]
        out.append(
            Command(
                (
                    "aaorun",
                    "combine_image",
                    " ".join(reduced),
                    "-COMBINEDFILE",
                    name,
                    "-idxfile",
                    idx,
                ),
                name,
            )
        )
        return out
    if step.task == "combine_image":
        frames = " ".join(Path(f).name for f in step.inputs["frames"])
        return [
            Command(
                ("aaorun", "combine_image", frames, "-COMBINEDFILE", name, "-idxfile", idx), name
            )
        ]
    if step.task == "splice":
        pair = f"{Path(step.inputs['blue']).name} {Path(step.inputs['red']).name}"
        return [Command(("aaorun", "splice", pair, "-idxfile", idx, "-output_file", name), name)]
    raw = Path(step.inputs["raw"]).name
    argv = ["aaorun", step.task, raw, *base]
    for role, arg in _CALIBRATION_ARGS.items():
        if role in step.inputs:
            argv += [f"-{arg}", Path(step.inputs[role]).name]
    if step.task == "reduce_object":
        argv += [
            "-USEBIASIM",
            "1" if "bias" in step.inputs else "0",
            "-USEDARKIM",
            "1" if "dark" in step.inputs else "0",
        ]
        argv += _params(options)
    elif step.task in ("reduce_arc", "reduce_fflat", "make_tlm"):
        argv += ["-USEBIASIM", "1" if "bias" in step.inputs else "0"]
    suffix = "tlm" if step.task == "make_tlm" else "red"
    return [Command(tuple(argv), f"{Path(raw).stem}{suffix}.fits")]


def completed(output: str, task: str) -> bool:
    """Whether 2dFdr's output says ``task`` completed (both message styles)."""
    return any(m.group(1) == task for pattern in COMPLETED for m in pattern.finditer(output))


def prepare_workdir(step: Step, root: str | Path | None = None, inside: str | None = None) -> Path:
    """A private working directory with every input file linked in under its own name (to
    ``inside/<name>`` when given: where a container sees the file)."""
    work = Path(tempfile.mkdtemp(prefix=".2dfdr-", dir=root))
    (work / "imp_scratch").mkdir()
    for name, path in step_files(step).items():
        (work / name).symlink_to(f"{inside}/{name}" if inside else Path(path).resolve())
    return work


def step_files(step: Step) -> dict[str, str]:
    """The step's input files by name (2dFdr is given names, in its working directory)."""
    files: dict[str, str] = {}
    for value in step.inputs.values():
        for path in (value,) if isinstance(value, str) else value:
            files.setdefault(Path(path).name, str(path))
    return files


def _as_text(output: str) -> str:
    """2dFdr's output as text the database can hold: PostgreSQL refuses a NUL byte (and
    with it the whole log of the request)."""
    return output.replace("\x00", "\ufffd")


def _tail(output: str, lines: int = 15) -> str:
    return "\n".join(output.strip().splitlines()[-lines:])


def _check(command: Command, output: str, work: Path, step: Step) -> None:
    task = command.argv[1]
    product = work / command.product
    # a plain file only: a link would point the platform at whatever it names on the host
    if not completed(output, task) or product.is_symlink() or not product.is_file():
        raise TdfdrError(
            f"{step.describe()}: 2dFdr {task} did not complete ({command.shell()}); "
            f"its last output:\n{_tail(output)}",
            retry=False,
        )


_NOT_INSTALLED = (
    "2dFdr's aaorun is not on PATH (install 2dFdr, or use the 2dfdr-docker or builtin engine)"
)


def run_local(command: Command, work: Path, step: Step, attempt: Attempt) -> str:
    """Run one command with ``aaorun`` from PATH; returns its output."""
    if shutil.which("aaorun") is None:
        raise DataError(_NOT_INSTALLED)
    timeout = get_settings().step_timeout
    environment = {
        **os.environ,
        "IMP_SCRATCH": str(work / "imp_scratch"),
        "DISPLAY": os.environ.get("DISPLAY", ":0"),
        "HECTORNB_ATTEMPT": str(attempt.number),
    }
    try:
        proc = subprocess.run(
            command.argv,
            cwd=work,
            env=environment,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TdfdrError(
            f"{step.describe()}: 2dFdr {command.argv[1]} ran over {timeout:g} s and was stopped",
            retry=False,
        ) from exc
    output = _as_text(proc.stdout)
    _raise_on_crash(command, proc.returncode, output, step)
    return output


def _raise_on_crash(command: Command, code: int, output: str, step: Step) -> None:
    """A crash (killed by a signal, or a non-zero exit without the completion line) is
    worth another try in a fresh process."""
    task = command.argv[1]
    if code == 0 or completed(output, task):
        return
    signum = -code if code < 0 else code - 128 if code > 128 else 0
    how = f"exit {code}"
    if 0 < signum < 65:
        with contextlib.suppress(ValueError):
            how += f", {signal.Signals(signum).name}"
    raise TdfdrError(
        f"{step.describe()}: 2dFdr {task} crashed ({how}); its last output:\n{_tail(output)}"
    )


_KILLED = {
    "timeout": "ran over {timeout:g} s (HECTORNB_STEP_TIMEOUT)",
    "memory": "used more than its {memory} of memory (HECTORNB_CONTAINER_MEMORY)",
    "disk": "wrote more than {disk} MiB in its work folder (HECTORNB_CONTAINER_DISK)",
}


def run_in_container(command: Command, work: Path, step: Step, attempt: Attempt, image: str) -> str:
    """Run one command in a new 2dFdr container (see `containers`); returns its output."""
    from . import containers
    from .run import attempt_wanted, worker_address

    settings = get_settings()
    inputs = step_files(step)
    missing = sorted(name for name, path in inputs.items() if not Path(path).is_file())
    if missing:
        raise TdfdrError(f"{step.describe()}: its input {', '.join(missing)} is gone", False)
    sandbox = containers.Sandbox(
        image=image,
        argv=command.argv,
        work=work,
        inputs=inputs,
        environment={
            "IMP_SCRATCH": f"{containers.WORK}/imp_scratch",
            "DISPLAY": ":0",
            "HECTORNB_ATTEMPT": str(attempt.number),
        },
        labels={
            **attempt.labels,
            "step": step.key,
            "attempt": str(attempt.number),
            "worker": worker_address(),
        },
    )
    try:
        if attempt.number > 1 and "request" in attempt.labels:
            # an attempt before this one may have lost its engine mid-command and left its
            # container running: one command of a step runs at a time
            containers.remove_survivors(
                settings,
                lambda labels: (
                    (labels.get("request"), labels.get("step"))
                    != (attempt.labels["request"], step.key)
                ),
                attempt.labels.get("platform", ""),
            )
        outcome = containers.run(sandbox, settings.step_timeout, settings, attempt_wanted)
    except containers.NotWanted:
        raise TdfdrError(f"{step.describe()}: cancelled before it started", False) from None
    except Exception as exc:
        _engine_error(exc, step, image)
        raise
    output = _as_text(outcome.output)
    task = command.argv[1]
    if outcome.killed:
        why = _KILLED[outcome.killed].format(
            timeout=settings.step_timeout,
            memory=settings.container_memory,
            disk=settings.container_disk // 2**20,
        )
        raise TdfdrError(
            f"{step.describe()}: 2dFdr {task} {why} and its container was killed; its last "
            f"output:\n{_tail(output)}",
            retry=False,
        )
    _raise_on_crash(command, outcome.exit_code or 0, output, step)
    return output + (
        f"\n(container of {image}, attempt {attempt.number}: exit {outcome.exit_code} "
        f"in {outcome.seconds:.2f} s)"
    )


def _engine_error(exc: Exception, step: Step, image: str) -> None:
    """Raise a `TdfdrError` that says, in a line, why Docker did not run the command."""
    from docker.errors import DockerException, ImageNotFound
    from requests.exceptions import RequestException

    from .images import BUILDING

    if isinstance(exc, ImageNotFound):
        raise TdfdrError(
            f"{step.describe()}: the image {image} is not on this Docker engine ({BUILDING})",
            retry=False,
        ) from exc
    if isinstance(exc, DockerException | RequestException):
        # Docker's own words, without its API's URLs
        why = getattr(exc, "explanation", None) or type(exc).__name__
        raise TdfdrError(
            f"{step.describe()}: cannot run 2dFdr in Docker (image {image}): {why}"
        ) from exc


def run_step_local(
    step: Step, options: Mapping[str, str], version: str = "", attempt: Attempt | None = None
) -> list[str]:
    """The ``2dfdr`` engine: ``aaorun`` from ``PATH``."""
    return run_step(step, options, attempt or Attempt())


def engine_image(version: str, settings: Settings) -> str:
    """The image of the ``2dfdr-docker`` engine at ``version`` (its tag; "" for the
    configured image as it is)."""
    from .images import repository_of

    image = settings.tdfdr_image
    if version:  # the repository may name a registry with a port, or pin a digest
        image = f"{repository_of(image)}:{version}"
    return image


def image_problem(version: str, settings: Settings) -> str:
    """Why a request for the ``2dfdr-docker`` engine at ``version`` cannot run ("" when
    it can): asked when it is submitted, so that a tag not built here is refused then,
    not found out by the first step."""
    from . import images

    return images.image_problem(engine_image(version, settings))


def offered_images(settings: Settings) -> list[str]:
    """``2dfdr-docker@TAG`` for each tag of the engine's image on the Docker engine."""
    from . import images

    return [f"2dfdr-docker@{tag}" for tag in images.image_tags(settings.tdfdr_image)]


def offered_local(settings: Settings) -> list[str]:
    """``2dfdr`` when this process finds ``aaorun`` on its PATH."""
    return [] if local_problem("", settings) else ["2dfdr"]


def local_problem(version: str, settings: Settings) -> str:
    """Why the ``2dfdr`` engine cannot run here ("" when ``aaorun`` is on PATH)."""
    return "" if shutil.which("aaorun") else _NOT_INSTALLED


def run_step_in_container(
    step: Step, options: Mapping[str, str], version: str = "", attempt: Attempt | None = None
) -> list[str]:
    """The ``2dfdr-docker`` engine: ``aaorun`` in ``HECTORNB_2DFDR_IMAGE``, or in that
    image's tag ``version``."""
    image = engine_image(version, get_settings())
    if attempt and attempt.number > 1:  # an engine restarting gets a moment to come back
        time.sleep(min(2.0 * (attempt.number - 1), 10.0))
    return run_step(step, options, attempt or Attempt(), image=image)


def run_step(
    step: Step, options: Mapping[str, str], attempt: Attempt, image: str | None = None
) -> list[str]:
    """Run ``step``'s commands (in containers of ``image`` when given); the product lands
    at ``step.output``. Returns the log: each command line and its output."""
    from . import containers

    idx = idx_file(step, options)
    # beside the product, so that moving it into place is an atomic rename
    Path(step.output).parent.mkdir(parents=True, exist_ok=True)
    work = prepare_workdir(step, Path(step.output).parent, containers.INPUTS if image else None)
    if image:
        containers.give_to_container_user(get_settings(), work, work / "imp_scratch")
    log: list[str] = []
    try:
        steps = commands(step, options, idx)
        for command in steps:
            log.append(f"$ {command.shell()}")
            if image:
                output = run_in_container(command, work, step, attempt, image)
            else:
                output = run_local(command, work, step, attempt)
            log.append(output)
            _check(command, output, work, step)
        if image:
            _take_over(work / steps[-1].product, Path(step.output))
        else:
            os.replace(work / steps[-1].product, step.output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return log


def _take_over(product: Path, output: Path) -> None:
    """``product`` (the container user's file) at ``output`` as the service's own plain
    file, readable by all and with no special bits, moved into place atomically."""
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    source = os.open(product, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        with open(source, "rb", closefd=False) as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    finally:
        os.close(source)
    os.chmod(partial, 0o644)
    os.replace(partial, output)
