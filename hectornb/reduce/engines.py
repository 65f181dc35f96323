"""The reduction engines a request may name, each declared once.

An engine runs one `Step` on a Dask worker and writes its product. A request names it as
``NAME`` or ``NAME@VERSION``: the built-in engine's version picks workers started with that
hectornb release (``--resources hectornb-<version>=1``), so several run side by side; the
2dFdr container's version is its image tag. Adding an engine is one `Engine` in `ENGINES`;
its runner is imported by name on the worker that runs a step, so a server that only plans
requests never imports 2dFdr's or docker's code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module

from ..config import Settings
from ..errors import Invalid
from .steps import Step

_IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # Docker's tag grammar
_TDFDR = "hectornb.reduce.tdfdr:"
_RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+!-]{0,63}")  # PEP 440's characters


@dataclass(frozen=True)
class Attempt:
    """Which try of a step this is (1, then 2, … for each retry) and ``labels`` naming what
    it belongs to (the request, its runner), which a container engine puts on its
    containers so that survivors can be found."""

    number: int = 1
    labels: Mapping[str, str] = field(default_factory=dict)


#: ``runner(step, options, version, attempt)``: writes ``step.output``, returns log lines.
Runner = Callable[[Step, Mapping[str, str], str, Attempt], list[str]]


@dataclass(frozen=True)
class Engine:
    """One reduction engine.

    ``runner`` is ``"module:function"``. ``version`` is the grammar of what may follow
    ``@`` (None: the engine has no versions); ``version_label`` names it in the list of
    engines and ``version_is`` describes it when a request gets it wrong. ``own_options``:
    the engine implements the platform's option set (`OPTIONS`, with defaults); otherwise
    only what was requested reaches it, in 2dFdr's names. ``per_release``: a version picks
    workers running that hectornb release. ``containers``: its steps run in labelled
    containers, which the runner keeps in hand (`hectornb.reduce.containers`).
    ``check``: ``"module:function"`` telling, when a request is submitted, why the
    engine at a version cannot run here (`Engine.problem`). ``offered``:
    ``"module:function"`` giving the references (``NAME[@VERSION]``) a form offers, those
    this platform can run now (`Engine.here`; without it, the engine's name).
    """

    name: str
    runner: str
    version: re.Pattern[str] | None = None
    version_is: str = ""
    version_label: str = "version"
    own_options: bool = False
    per_release: bool = False
    containers: bool = False
    check: str = ""
    offered: str = ""

    @property
    def form(self) -> str:
        """How a request names it, e.g. ``builtin[@version]``."""
        return f"{self.name}[@{self.version_label}]" if self.version else self.name

    def problem(self, version: str, settings: Settings) -> str:
        """Why this engine at ``version`` cannot run on this platform ("" when it can, or
        when it has no check)."""
        return _call(self.check, version, settings) if self.check else ""

    def here(self, settings: Settings) -> list[str]:
        """How a request names this engine in the versions this platform can run now."""
        return list(_call(self.offered, settings)) if self.offered else [self.name]

    def run(
        self,
        step: Step,
        options: Mapping[str, str],
        version: str = "",
        attempt: Attempt | None = None,
    ) -> list[str]:
        return _call(self.runner, step, options, version, attempt or Attempt())


def _call(reference: str, *args):
    """Call ``"module:function"``: engines' code is imported only where it is used."""
    module, _, function = reference.partition(":")
    return getattr(import_module(module), function)(*args)


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine(
            "builtin",
            "hectornb.reduce.builtin.runner:run_step",
            _RELEASE,
            "a version such as 0.4.1",
            own_options=True,
            per_release=True,
        ),
        Engine(
            "2dfdr",
            _TDFDR + "run_step_local",
            check=_TDFDR + "local_problem",
            offered=_TDFDR + "offered_local",
        ),
        Engine(
            "2dfdr-docker",
            _TDFDR + "run_step_in_container",
            _IMAGE_TAG,
            "an image tag (letters, digits, _ . -; at most 128, not starting with . or -)",
            version_label="tag",
            containers=True,
            check=_TDFDR + "image_problem",
            offered=_TDFDR + "offered_images",
        ),
    )
}


def parse_engine(engine: str) -> tuple[Engine, str]:
    """``NAME[@VERSION]`` as (engine, version); the version is "" when not given.

    Raises `Invalid` for an engine that is not in `ENGINES` or a version it cannot have.
    """
    name, at, version = str(engine).partition("@")
    known = ENGINES.get(name)
    if known is None or (at and known.version is None):
        forms = ", ".join(e.form for e in ENGINES.values())
        raise Invalid(f"engine must be one of {forms}, not {engine!r}")
    if at and not known.version.fullmatch(version):  # type: ignore[union-attr]
        raise Invalid(f"engine {engine!r}: after @ comes {known.version_is}")
    return known, version


def engine_choices(settings: Settings) -> tuple[list[str], dict[str, str]]:
    """What the Reduce form offers, each engine asked once: the references
    (``NAME[@VERSION]``) this platform can run now, the default (``builtin``) first, and
    why each engine it offers none of cannot run, by name (``aaorun`` not installed, no
    Docker engine answering, its image not built), so that a missing engine is explained,
    not just absent."""
    offered: list[str] = []
    unavailable: dict[str, str] = {}
    for e in ENGINES.values():
        here = e.here(settings)
        offered += here
        if e.offered and not here:
            unavailable[e.name] = e.problem("", settings) or "none of its versions is here"
    return offered, unavailable


def engines_here(settings: Settings) -> list[str]:
    """The engine references this platform can run now, the default first."""
    return engine_choices(settings)[0]


def engines_not_here(settings: Settings) -> dict[str, str]:
    """Why each engine this platform offers none of cannot run here, by name."""
    return engine_choices(settings)[1]


def container_engines() -> list[str]:
    """The names of the engines whose steps run in containers."""
    return [e.name for e in ENGINES.values() if e.containers]


def engine_resources(engine: str) -> dict[str, float] | None:
    """Dask resources a step of ``engine`` needs: a worker running that hectornb release."""
    known, version = parse_engine(engine)
    return {f"hectornb-{version}": 1} if known.per_release and version else None


def engine_version(engine: str, release: str) -> str:
    """What makes two engines' products differ: ``engine`` with the hectornb ``release``
    that runs it when its version is the platform's own."""
    known, version = parse_engine(engine)
    return f"{known.name}@{release}" if known.per_release and not version else engine
