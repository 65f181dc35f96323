"""Running a night's steps on a Dask cluster: retries, failure isolation, progress.

The client submits a step when the steps it needs have finished, so a step that fails
(after its retries) stops only what depends on it: the other frames of the night go on,
and a field's exposures are combined from those that were reduced. Dask re-runs the tasks
of a worker that dies; products are written atomically and each step is a pure function of
its inputs, so a re-run writes the same bytes.

A local cluster of worker processes (one thread each: the steps are NumPy-bound and hold
the GIL in places) is started per run unless ``HECTORNB_DASK_SCHEDULER`` names one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings, get_settings
from .errors import DataError
from .steps import NightSteps, Step

ENGINES = ("builtin", "2dfdr", "2dfdr-docker")


@dataclass
class StepResult:
    """What happened to one step: ``done``, ``failed`` (with the reason) or ``skipped``."""

    step: Step
    status: str
    reason: str = ""
    seconds: float = 0.0
    log: list[str] = field(default_factory=list)
    worker: str = ""

    def describe(self) -> str:
        text = f"{self.status:<7} {self.step.describe()}"
        if self.status == "done":
            return f"{text} ({self.seconds:.1f} s)"
        return f"{text}: {self.reason}"


@dataclass
class NightRun:
    """The outcome of a run: one `StepResult` per step, in plan order."""

    results: dict[str, StepResult]
    problems: list[str]
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.status == "done" for r in self.results.values())

    def products(self, task: str | None = None) -> list[Path]:
        return [Path(r.step.output) for r in self.results.values()
                if r.status == "done" and (task is None or r.step.task == task)]  # fmt: skip

    def failures(self) -> list[StepResult]:
        return [r for r in self.results.values() if r.status != "done"]


def execute_step(step: Step, engine: str, options: Mapping[str, str]) -> dict:
    """Run one step in this process (a Dask worker).

    Raises (so Dask retries) on anything unexpected; a `DataError` comes back as
    ``{"failed": reason}`` at once.
    """
    start = time.perf_counter()
    if engine == "builtin":
        from .builtin import run_step
    else:
        from .tdfdr import run_step as run_tdfdr

        def run_step(step, options):
            return run_tdfdr(step, options, docker=engine == "2dfdr-docker")

    try:
        log = run_step(step, options)
    except DataError as exc:  # a retry would give the same answer
        return {"failed": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start}
    if not Path(step.output).exists():
        raise RuntimeError(f"{step.describe()} finished without writing {step.output}")
    return {"seconds": time.perf_counter() - start, "log": log}


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "the workers running it died repeatedly (out of memory?)"
    return f"{name}: {exc}"


def _with_survivors(step: Step, ok: set[str], outputs: dict[str, str]) -> Step:
    kept = tuple(k for k in step.needs if k in ok)
    return dataclasses.replace(step, needs=kept,
                               inputs={**step.inputs, "frames": tuple(outputs[k] for k in kept)})


def run_steps(
    plan: NightSteps,
    client,
    engine: str = "builtin",
    options: Mapping[str, str] | None = None,
    retries: int = 2,
    on_result: Callable[[StepResult, int, int], None] | None = None,
) -> NightRun:
    """Run ``plan`` on the Dask ``client``; ``on_result(result, done, total)`` per step."""
    from distributed import wait

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    options = dict(options or {})
    steps = plan.by_key()
    order = list(steps)
    outputs = {k: s.output for k, s in steps.items()}
    results: dict[str, StepResult] = {}
    running: dict = {}  # future -> step
    token = uuid.uuid4().hex[:8]
    start = time.perf_counter()

    def finish(result: StepResult) -> None:
        results[result.step.key] = result
        if on_result:
            on_result(result, len(results), len(order))

    while len(results) < len(order):
        submitted = {s.key for s in running.values()}
        ok = {k for k, r in results.items() if r.status == "done"}
        for key in order:
            step = steps[key]
            if key in results or key in submitted:
                continue
            if any(n not in results for n in step.needs):
                continue
            lost = [n for n in step.needs if n not in ok]
            if step.partial and len(lost) < len(step.needs):
                step = _with_survivors(step, ok, outputs)
            elif lost:
                finish(StepResult(step, "skipped", "needs " + ", ".join(
                    steps[n].describe() for n in lost) + ", which did not finish"))  # fmt: skip
                continue
            future = client.submit(execute_step, step, engine, options, retries=retries,
                                   key=f"{step.task}-{token}-{order.index(key)}", pure=False,
                                   priority=len(order) - order.index(key))  # fmt: skip
            running[future] = step
        if not running:
            continue
        done, _ = wait(list(running), return_when="FIRST_COMPLETED")
        for future in done:
            step = running.pop(future)
            if future.status == "finished":
                value = future.result()
                if "failed" in value:
                    finish(StepResult(step, "failed", value["failed"], value["seconds"]))
                else:
                    finish(StepResult(step, "done", seconds=value["seconds"], log=value["log"]))
            else:
                exc = future.exception()
                tb = "".join(traceback.format_exception(exc)) if exc else ""
                finish(StepResult(step, "failed", _reason(exc), log=[tb]))
    ordered = {k: results[k] for k in order}
    return NightRun(ordered, list(plan.problems), time.perf_counter() - start)


@contextlib.contextmanager
def dask_client(workers: int | None = None, settings: Settings | None = None,
                memory_limit: str = "3GiB") -> Iterator:  # fmt: skip
    """A client of ``HECTORNB_DASK_SCHEDULER``, or of a local cluster of ``workers`` processes.

    The memory limit makes Dask restart a worker that runs away instead of letting it take
    the machine; a full Hector frame needs about 1 GB.
    """
    from distributed import Client, LocalCluster

    settings = settings or get_settings()
    if settings.dask_scheduler:
        with Client(settings.dask_scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                      dashboard_address=None, memory_limit=memory_limit,
                      silence_logs=50) as cluster, Client(cluster) as client:  # fmt: skip
        yield client


def reduce_night(
    rawdir: str | Path,
    outdir: str | Path,
    engine: str = "builtin",
    options: Mapping[str, object] | None = None,
    workers: int | None = None,
    on_result: Callable[[StepResult, int, int], None] | None = None,
    settings: Settings | None = None,
) -> NightRun:
    """Index ``rawdir``, plan it, and run every step on Dask; products under ``outdir``.

    ``options`` are 2dFdr option names (or the form's short names) with values; a switched
    off bias or dark also drops its combining step.
    """
    from .archive import index_directory
    from .options import resolve
    from .plan import plan_night
    from .steps import night_steps

    resolved = resolve(options or {}, engine)
    frames, unreadable = index_directory(rawdir)
    if frames.empty:
        raise FileNotFoundError(f"no raw frames (DDmmmCNNNN.fits) under {rawdir}")
    groups = plan_night(frames)
    for g in groups:
        for role, switch in (("bias", "USEBIASIM"), ("dark", "USEDARKIM")):
            if resolved.get(switch) == "0":
                g.choices.pop(role, None)
    plan = night_steps(groups, frames, outdir)
    plan.problems[:0] = unreadable
    with dask_client(workers, settings) as client:
        return run_steps(plan, client, engine, resolved, on_result=on_result)
