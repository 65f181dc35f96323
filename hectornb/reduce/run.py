"""Running a night's steps on a Dask cluster: retries, failure isolation, progress.

The client submits a step when the steps it needs have finished, so a step that fails
(after its retries) stops only what depends on it: the other frames of the night go on,
and a field's exposures are combined from those that were reduced. A step that raised is
submitted again as a new attempt (the 2dFdr container engine starts a fresh container for
it, as PAWS's Celery tasks retry), and Dask re-runs the tasks of a worker that dies;
products are written atomically and each step is a pure function of its inputs, so a
re-run writes the same bytes.

A local cluster of worker processes (one thread each by default: the built-in steps are
NumPy-bound and hold the GIL in places) is started per run unless
``HECTORNB_DASK_SCHEDULER`` names one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings, get_settings
from .engines import Attempt, engine_resources, parse_engine
from .errors import DataError, StepError
from .steps import NightSteps, Step


@dataclass
class StepResult:
    """What happened to one step: ``done``, ``failed`` (with the reason), ``skipped`` (a
    step it needs did not finish) or ``cancelled``."""

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

    def problem(self) -> str:
        """What went wrong, in a line that names the step once (its reason, from the
        engine's error, often names it too)."""
        step = self.step.describe()
        return f"{self.status} {step}: {self.reason.replace(f'{step}: ', '', 1)}"


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
        return [
            Path(r.step.output)
            for r in self.results.values()
            if r.status == "done" and (task is None or r.step.task == task)
        ]

    def failures(self) -> list[StepResult]:
        return [r for r in self.results.values() if r.status != "done"]


def execute_step(
    step: Step, engine: str, options: Mapping[str, str], attempt: Attempt | None = None
) -> dict:
    """Run one step in this process (a Dask worker).

    Raises (so that the runner tries again) on anything unexpected; a `DataError`, or a
    `StepError` that another attempt would repeat, comes back as ``{"failed": reason}``.
    """
    start = time.perf_counter()
    known, version = parse_engine(engine)
    try:
        log = known.run(step, options, version, attempt or Attempt())
    except DataError as exc:  # a retry would give the same answer
        return {"failed": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - start}
    except StepError as exc:
        if exc.retry:
            raise
        return {"failed": str(exc), "seconds": time.perf_counter() - start}
    if not Path(step.output).exists():
        raise RuntimeError(f"{step.describe()} finished without writing {step.output}")
    return {"seconds": time.perf_counter() - start, "log": log, "worker": worker_address()}


def attempt_wanted() -> bool:
    """Whether the Dask task running this code is still wanted: False once its future was
    cancelled (a step queued behind a container slot must not start after that)."""
    try:
        from distributed import get_worker
        from distributed.worker import thread_state

        worker = get_worker()
    except (ImportError, ValueError):  # not on a Dask worker
        return True
    task = worker.state.tasks.get(getattr(thread_state, "key", None))
    return task is not None and task.state in ("executing", "long-running")


def worker_address() -> str:
    """The address of the Dask worker running this code ("" outside one)."""
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:  # not on a Dask worker
        return ""


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "the workers running it died repeatedly (out of memory?)"
    return f"{name}: {exc}"


def _has_bokeh() -> bool:
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


def _has_workers(client, resources: dict[str, float]) -> bool:
    workers = client.scheduler_info().get("workers", {}).values()
    return any(
        all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items()) for w in workers
    )


def _first_done(futures: list, timeout: float | None) -> list:
    """The futures that are no longer pending, waiting up to ``timeout`` s for one."""
    from distributed import wait

    with contextlib.suppress(TimeoutError, CancelledError):
        wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
    return [f for f in futures if f.status != "pending"]


def _with_survivors(step: Step, ok: set[str], outputs: dict[str, str]) -> Step:
    kept = tuple(k for k in step.needs if k in ok)
    return dataclasses.replace(
        step, needs=kept, inputs={**step.inputs, "frames": tuple(outputs[k] for k in kept)}
    )


def run_steps(
    plan: NightSteps,
    client,
    engine: str = "builtin",
    options: Mapping[str, str] | None = None,
    retries: int = 2,
    on_result: Callable[[StepResult, int, int], None] | None = None,
    completed: Iterable[str] = (),
    priority: Callable[[], int] | None = None,
    should_stop: Callable[[], str] | None = None,
    on_retry: Callable[[Step, int, str], None] | None = None,
    labels: Mapping[str, str] | None = None,
) -> NightRun:
    """Run ``plan`` on the Dask ``client``; ``on_result(result, done, total)`` per step.

    A step that raised runs again, up to ``retries`` more times, each a new `Attempt`
    (carrying ``labels``); ``on_retry(step, attempt, reason)`` hears why the attempt
    before failed.

    Steps in ``completed`` (keys) are not run again: their products are already written
    (a job resumed after its server restarted). ``priority()`` gives each submitted step
    its Dask priority (higher runs first; the service shares the cluster fairly between
    users with it). ``should_stop()`` is asked between steps; a non-empty answer cancels
    the steps not yet finished with that reason.
    """
    resources = engine_resources(engine)
    if resources and not _has_workers(client, resources):
        raise RuntimeError(
            f"no Dask worker runs {engine}: start workers with "
            f"--resources {next(iter(resources))}=1"
        )
    options = dict(options or {})
    steps = plan.by_key()
    order = list(steps)
    outputs = {k: s.output for k, s in steps.items()}
    results: dict[str, StepResult] = {}
    running: dict = {}  # future -> (step, attempt)
    token = uuid.uuid4().hex[:8]
    start = time.perf_counter()

    def submit(step: Step, attempt: int) -> None:
        index = order.index(step.key)
        future = client.submit(
            execute_step,
            step,
            engine,
            options,
            Attempt(attempt, dict(labels or {})),
            key=f"{step.task}-{token}-{index}-{attempt}",
            pure=False,
            priority=priority() if priority else len(order) - index,
            resources=resources,
        )
        running[future] = (step, attempt)

    def finish(result: StepResult) -> None:
        results[result.step.key] = result
        if on_result:
            on_result(result, len(results), len(order))

    def stopping() -> bool:
        return bool(should_stop and should_stop())

    written = set(completed)
    for key in order:
        if key in written and Path(outputs[key]).exists():
            finish(StepResult(steps[key], "done", "written before", log=["(already written)"]))
    try:
        while len(results) < len(order):
            stop = should_stop() if should_stop else ""
            if stop:
                client.cancel(list(running))
                for key in order:
                    if key not in results:
                        finish(StepResult(steps[key], "cancelled", stop))
                break
            submitted = {s.key for s, _ in running.values()}
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
                    finish(
                        StepResult(
                            step,
                            "skipped",
                            "needs "
                            + ", ".join(steps[n].describe() for n in lost)
                            + ", which did not finish",
                        )
                    )
                    continue
                submit(step, 1)
            if not running:
                continue
            for future in _first_done(list(running), 1.0 if should_stop else None):
                step, attempt = running.pop(future)
                if future.status == "error" and attempt <= retries and not stopping():
                    reason = _reason(future.exception())
                    if on_retry:
                        on_retry(step, attempt + 1, reason)
                    submit(step, attempt + 1)
                elif future.status == "finished":
                    value = future.result()
                    if "failed" in value:
                        finish(StepResult(step, "failed", value["failed"], value["seconds"]))
                    else:
                        finish(
                            StepResult(
                                step,
                                "done",
                                seconds=value["seconds"],
                                log=value["log"],
                                worker=value.get("worker", ""),
                            )
                        )
                elif future.status == "cancelled":
                    finish(StepResult(step, "failed", "cancelled on the cluster"))
                else:
                    exc = future.exception()
                    # a command that failed says why in its message; anything else, where
                    where = exc and not isinstance(exc, StepError)
                    log = ["".join(traceback.format_exception(exc))] if where else []
                    finish(StepResult(step, "failed", _reason(exc), log=log))
    except BaseException:
        # the caller failed (its database, say) or was stopped: the steps submitted
        # must not run on for nobody
        client.cancel(list(running))
        raise
    ordered = {k: results[k] for k in order}
    return NightRun(ordered, list(plan.problems), time.perf_counter() - start)


@contextlib.contextmanager
def dask_client(
    workers: int | None = None,
    settings: Settings | None = None,
    memory_limit: str = "3GiB",
    dashboard: bool = False,
    dashboard_prefix: str = "",
) -> Iterator:
    """A client of ``HECTORNB_DASK_SCHEDULER``, or of a local cluster of ``workers`` processes
    (with its dashboard on a free loopback port, under the URL path ``dashboard_prefix``,
    when ``dashboard`` and bokeh is installed).

    The memory limit makes Dask restart a worker that runs away instead of letting it take
    the machine; a full Hector frame needs about 1 GB.
    """
    import dask
    from distributed import Client, LocalCluster

    settings = settings or get_settings()
    if settings.dask_scheduler:
        with Client(settings.dask_scheduler) as client:
            yield client
        return
    from .. import __version__

    # The scheduler runs in this process and listens on loopback, where every local user can
    # reach it: the scheduler and workers speak TLS with throw-away certificates, so no one
    # without them can run code on the cluster (as this process, reading its token).
    from ..identity import is_hub_service

    hub = is_hub_service()
    # Scratch and lock files in the platform's own folder: in the shared /tmp another local
    # user could hold the workers' lock and stall every reduction.
    scratch = settings.home / "dask-scratch"
    scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The dashboard is on loopback only, as it has no sign-in of its own, and there is none
    # under a Hub, where other people's code shares that loopback.
    served = dashboard and _has_bokeh() and not hub
    # The scheduler and the workers would also answer plain HTTP on loopback, to every local
    # user: /info pages with workers' logs and call stacks, /json, /metrics. The workers
    # serve nothing; the scheduler only the dashboard's own static files when it has one.
    quiet = {
        "distributed.worker.http.routes": [],
        "distributed.scheduler.http.routes": ["distributed.http.statics"] if served else [],
    }
    with (
        dask.config.set(quiet),
        LocalCluster(
            n_workers=workers or 2,
            threads_per_worker=settings.reduce_threads,
            processes=True,
            dashboard_address="127.0.0.1:0" if served else None,
            security=True,
            local_directory=str(scratch),
            memory_limit=memory_limit,
            silence_logs=50,
            scheduler_kwargs={"http_prefix": dashboard_prefix or None},
            resources={f"hectornb-{__version__}": 1},
        ) as cluster,
        Client(cluster) as client,
    ):
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

    parse_engine(engine)
    resolved = resolve(options or {}, engine)
    frames, unreadable = index_directory(rawdir)
    if frames.empty:
        raise FileNotFoundError(f"no raw frames (DDmmmCNNNN.fits) under {rawdir}")
    plan = plan_steps(frames, outdir, resolved)
    plan.problems[:0] = unreadable
    with dask_client(workers, settings) as client:
        return run_steps(plan, client, engine, resolved, on_result=on_result)


def plan_steps(frames, outdir: str | Path, resolved: Mapping[str, str]) -> NightSteps:
    """The steps that reduce every object frame of ``frames`` (an archive index, with the
    calibrations to choose from), products under ``outdir``. A bias or dark switched off
    in ``resolved`` (2dFdr options) drops its combining step."""
    from .plan import plan_night
    from .steps import night_steps

    groups = plan_night(frames)
    for g in groups:
        for role, switch in (("bias", "USEBIASIM"), ("dark", "USEDARKIM")):
            if resolved.get(switch) == "0":
                g.choices.pop(role, None)
    return night_steps(groups, frames, outdir)
