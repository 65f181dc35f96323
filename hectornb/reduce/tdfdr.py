"""The ``2dfdr`` and ``2dfdr-docker`` engines: the same steps run by AAO's 2dFdr.

Each step becomes the ``aaorun`` command lines the SAMI/Hector managers use:
``aaorun <task> <file> -idxfile <grating idx> -OUT_DIRNAME <dir> [-NAME VALUE …]``, run in a
private working directory with its own ``IMP_SCRATCH`` (2dFdr instances sharing one clash),
the raw files linked in. 2dFdr's return code is not trusted: a command has succeeded when
its output says so (``Action "EXIT", Task <t>, completed`` in v6.28+, ``Data Reduction
command <t> completed.`` before) and the product exists; the product is then moved into
place atomically. ``2dfdr`` runs ``aaorun`` from ``PATH``; ``2dfdr-docker`` runs it in a
container (``HECTORNB_2DFDR_IMAGE``) through docker-py, the working directory and the
raw and output directories mounted at the same paths.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import get_settings
from .errors import DataError
from .steps import Step

# idx files shipped with 2dFdr, per grating; Hector's AAOmega arm (SAMI/Hector managers)
IDX_FILES = {"580V": "hector1_v4.idx", "1000R": "hector2_v4.idx"}
COMPLETED = (
    re.compile(r'Action "EXIT", Task (\S+), completed'),
    re.compile(r"Data Reduction command (\S+) completed\."),
)
TIMEOUT_S = 1200  # Hector's manager gives a command 20 minutes
# options that only the built-in engine understands
_BUILTIN_ONLY = {"CRSIG"}
_CALIBRATION_ARGS = {
    "tlm": "TLMAP_FILENAME",
    "arc": "WAVEL_FILENAME",
    "fflat": "FFLAT_FILENAME",
    "bias": "BIAS_FILENAME",
    "dark": "DARK_FILENAME",
}


class TdfdrError(RuntimeError):
    """2dFdr did not complete a command; the message quotes the end of its output."""


@dataclass(frozen=True)
class Command:
    """One ``aaorun`` invocation and the file it must leave in the working directory."""

    argv: tuple[str, ...]
    product: str  # file name 2dFdr writes in OUT_DIRNAME

    def shell(self) -> str:
        return " ".join(a if re.fullmatch(r"[\w./:=+-]+", a) else repr(a) for a in self.argv)


def idx_file(step: Step, options: Mapping[str, str]) -> str:
    """The idx file for a step: ``IDXFILE`` if given, else the one for its grating."""
    if options.get("IDXFILE"):
        return str(options["IDXFILE"])
    if step.grating not in IDX_FILES:
        raise DataError(
            f"{step.describe()}: no 2dFdr idx file known for grating "
            f"{step.grating or '(none)'}; give one with --option IDXFILE=<file.idx>"
        )
    return IDX_FILES[step.grating]


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


def prepare_workdir(step: Step, root: str | Path | None = None) -> Path:
    """A private working directory with every input file linked in under its own name."""
    work = Path(tempfile.mkdtemp(prefix=".2dfdr-", dir=root))
    (work / "imp_scratch").mkdir()
    for value in step.inputs.values():
        for path in (value,) if isinstance(value, str) else value:
            link = work / Path(path).name
            if not link.exists():
                link.symlink_to(Path(path).resolve())
    return work


def _environment(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "IMP_SCRATCH": str(work / "imp_scratch"),
        "DISPLAY": os.environ.get("DISPLAY", ":0"),
    }


def _check(command: Command, output: str, work: Path) -> None:
    task = command.argv[1]
    if not completed(output, task) or not (work / command.product).exists():
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise TdfdrError(f"2dFdr {task} did not complete ({command.shell()}):\n{tail}")


def run_local(command: Command, work: Path) -> str:
    """Run one command with ``aaorun`` from PATH; returns its output."""
    if shutil.which("aaorun") is None:
        raise TdfdrError(
            "2dFdr's aaorun is not on PATH (install 2dFdr, or use the "
            "2dfdr-docker or builtin engine)"
        )
    try:
        proc = subprocess.run(
            command.argv,
            cwd=work,
            env=_environment(work),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TdfdrError(f"2dFdr {command.argv[1]} ran over {TIMEOUT_S} s and was stopped") from exc
    return proc.stdout


def docker_spec(command: Command, work: Path, step: Step, image: str) -> dict:
    """Keyword arguments of docker-py's ``containers.run`` for one command."""
    mounts = {str(work): {"bind": str(work), "mode": "rw"}}
    for value in step.inputs.values():
        for path in (value,) if isinstance(value, str) else value:
            folder = str(Path(path).resolve().parent)
            mounts.setdefault(folder, {"bind": folder, "mode": "ro"})
    return {
        "image": image,
        "command": list(command.argv),
        "working_dir": str(work),
        "environment": {"IMP_SCRATCH": str(work / "imp_scratch"), "DISPLAY": ":0"},
        "volumes": mounts,
        "user": f"{os.getuid()}:{os.getgid()}",
        "detach": True,
        "network_disabled": True,
    }


def run_docker(command: Command, work: Path, step: Step, image: str) -> str:
    """Run one command in a 2dFdr container; returns its output."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env()
        container = client.containers.run(**docker_spec(command, work, step, image))
    except DockerException as exc:
        raise TdfdrError(f"cannot run 2dFdr in Docker (image {image}): {exc}") from exc
    try:
        container.wait(timeout=TIMEOUT_S)
        return container.logs().decode(errors="replace")
    finally:
        container.remove(force=True)


def run_step_local(step: Step, options: Mapping[str, str], version: str = "") -> list[str]:
    """The ``2dfdr`` engine: ``aaorun`` from ``PATH``."""
    return run_step(step, options)


def run_step_in_container(step: Step, options: Mapping[str, str], version: str = "") -> list[str]:
    """The ``2dfdr-docker`` engine: ``aaorun`` in ``HECTORNB_2DFDR_IMAGE``, or in that
    image's tag ``version``."""
    image = get_settings().tdfdr_image
    if version:
        image = image.rsplit(":", 1)[0] + ":" + version
    return run_step(step, options, docker=True, image=image)


def run_step(
    step: Step, options: Mapping[str, str], docker: bool = False, image: str | None = None
) -> list[str]:
    """Run ``step``'s commands; the product lands at ``step.output``. Returns the log."""
    idx = idx_file(step, options)
    image = image or get_settings().tdfdr_image
    # beside the product, so that moving it into place is an atomic rename
    Path(step.output).parent.mkdir(parents=True, exist_ok=True)
    work = prepare_workdir(step, Path(step.output).parent)
    log: list[str] = []
    try:
        steps = commands(step, options, idx)
        for command in steps:
            log.append(f"$ {command.shell()}")
            output = run_docker(command, work, step, image) if docker else run_local(command, work)
            log.append(output)
            _check(command, output, work)
        os.replace(work / steps[-1].product, step.output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return log
