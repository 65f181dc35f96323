"""The Reduce service's runner: queued requests run on Dask, every step recorded.

A `ReductionRunner` (a thread of the server, or the ``hectornb reduce runner`` service at
a data centre) claims queued jobs, plans them with the calibrations of their nights, runs
the steps on Dask and records every step and event as it happens, e-mailing the requester
at start and end. It keeps the ``2dfdr-docker`` engine's containers in hand: those nothing
waits for any more (a server killed mid-step, a cancelled request) are removed.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path

from ..config import Settings, get_settings, server_base_url
from ..db.lease import Heartbeat
from . import notify
from .engines import container_engines, parse_engine
from .options import resolve
from .run import StepResult, dask_client, plan_steps, run_steps
from .service import DOWNLOADS, PRODUCT_TASKS, product_pdf
from .store import Reduction, ReductionStore

log = logging.getLogger(__name__)


class _RunnerStopping(Exception):
    """The runner is stopping: leave the job to the next one."""


class _FairShare:
    """Dask priorities that interleave users: each user's n-th step gets priority -n, so a
    single frame submitted behind a 960-frame run starts with the next free worker."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count: collections.Counter[str] = collections.Counter()

    def next(self, user: str) -> int:
        with self._lock:
            self._count[user] += 1
            return -self._count[user]


class ReductionRunner:
    """Claims queued jobs and runs them, up to ``max_jobs`` at once on one Dask client."""

    def __init__(
        self, settings: Settings | None = None, max_jobs: int = 4, poll_seconds: float = 0.5
    ):
        self.settings = settings or get_settings()
        self.store = ReductionStore(self.settings)
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.max_jobs = max_jobs
        self.poll = poll_seconds
        self.fair = _FairShare()
        self.root = str(self.settings.home / "reduce") + "/"
        self.client = None
        self._ready = threading.Event()  # set while the Dask client is connected
        self.dashboard = ""  # the dashboard as the platform serves it (hectornb/dask/status)
        self.dashboard_upstream = ""  # where it listens, on loopback
        self._active: dict[str, threading.Thread] = {}
        self._stop = threading.Event()
        self._deadline: float | None = None  # when stopping: how long running jobs may take
        self._thread: threading.Thread | None = None
        self._containers_used = False  # since it started, a 2dfdr-docker job was about

    def start(self) -> ReductionRunner:
        self._thread = threading.Thread(target=self._main, name="hectornb-runner", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30) -> None:
        """Stop claiming; give running jobs ``timeout`` s to reach the end of a step (a job
        cut off is taken up again when its lease runs out), then close the Dask cluster."""
        self._deadline = time.monotonic() + timeout
        self._stop.set()
        if self._thread:
            self._thread.join(timeout + 10)  # the cluster closes in a few seconds

    def run_forever(self) -> None:
        """The ``hectornb reduce runner`` service: run until interrupted."""
        self._main()

    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                self._loop()
            except Exception:
                log.exception("reduction runner %s: retrying in 5 s", self.name)
                self._ready.clear()
                self.client = None  # closed with the loop: the next loop starts its own
                self._stop.wait(5)

    def _loop(self) -> None:
        # the Dask cluster starts with the first request, not with the server: a JupyterLab
        # user server that never reduces anything never pays for one
        self._sweep_containers()  # what a killed server of this platform left running
        with contextlib.ExitStack() as stack, self.store.listen() as wake:
            heartbeat = Heartbeat(self.settings.job_lease)
            while not self._stop.is_set():
                self._active = {k: t for k, t in self._active.items() if t.is_alive()}
                if heartbeat.due():
                    self.store.beat(self.name, list(self._active))
                    self._sweep_containers()
                job = None
                if len(self._active) < self.max_jobs:
                    job = self.store.claim(self.name, self.settings.job_lease, self.root)
                if job is None:
                    wake(self.poll)  # a new request wakes it at once (NOTIFY)
                    continue
                # the job plans at once (its steps show in the app) while the cluster starts
                thread = threading.Thread(
                    target=self.run_job, args=(job,), daemon=True, name=f"job-{job.id[:8]}"
                )
                self._active[job.id] = thread
                thread.start()
                if self.client is None:
                    self._connect(stack)
            deadline = self._deadline or time.monotonic() + 60
            for thread in self._active.values():  # they stop between steps, within a second
                thread.join(max(0.0, deadline - time.monotonic()))
            self._ready.clear()
            self.client = None
        # the cluster is closed: nothing of this runner's waits for its containers any more
        self._remove_containers(lambda labels: labels.get("runner") != self.name)

    @functools.cached_property
    def platform(self) -> str:
        """The label of this platform's containers (its data folder and database)."""
        from .containers import platform_label

        return platform_label(self.settings, self.store.platform_identity())

    def _sweep_containers(self) -> None:
        """Remove this platform's 2dFdr containers that nothing waits for: those of a runner
        that stopped beating (its server was killed mid-step), of a request no longer
        running (cancelled), of one of this runner's workers that died, or past their
        deadline."""
        if self.store.has_unfinished(container_engines()):
            self._containers_used = True
        if not self._containers_used:
            return  # no container of this platform can be running: no need to ask Docker
        live = self.store.held_by_live_runners(self.settings.job_lease, container_engines())
        workers = None
        if self.client is not None:
            with contextlib.suppress(Exception):
                workers = set(self.client.scheduler_info().get("workers", {}))

        def keep(labels) -> bool:
            if (labels.get("runner"), labels.get("request")) not in live:
                return False
            mine = labels.get("runner") == self.name
            return not (mine and workers is not None and labels.get("worker") not in workers)

        self._remove_containers(keep)

    def _remove_containers(self, keep) -> None:
        try:
            from . import containers

            removed = containers.remove_survivors(self.settings, keep, self.platform)
        except Exception as exc:  # no Docker here, or it is down: nothing to clean
            log.debug("reduction runner %s: no container sweep: %s", self.name, exc)
            return
        for labels in removed:
            log.warning("removed container %s, which nothing waited for", labels["name"])
            if labels.get("request"):
                with contextlib.suppress(Exception):
                    self.store.event(
                        labels["request"],
                        "container",
                        f"removed container {labels['name']} of {labels.get('step', 'a step')}"
                        f" (attempt {labels.get('attempt', '?')}): nothing waited for it any"
                        " more",
                    )

    def _connect(self, stack: contextlib.ExitStack) -> None:
        # the dashboard under the path the platform serves it at (see server.dask_proxy)
        prefix = server_base_url().rstrip("/") + "/hectornb/dask"
        client = stack.enter_context(
            dask_client(
                self.settings.reduce_workers, self.settings, dashboard=True, dashboard_prefix=prefix
            )
        )
        # a fresh worker spends seconds importing the engine on its first step; do it now
        client.run(_import_engine)
        # under a Hub the dashboard (on the service's loopback) is for the operator, not a
        # link the users' browsers could follow
        from ..identity import is_hub_service

        link = getattr(client, "dashboard_link", "") or ""
        local = "127.0.0.1" in link and not self.settings.dask_scheduler
        self.dashboard_upstream = link if local else ""
        self.dashboard = "" if is_hub_service() else (prefix + "/status" if local else link)
        self.client = client
        self._ready.set()

    def run_job(self, job: Reduction) -> Reduction:
        """Plan and run one claimed job; every outcome ends in a final status."""
        store = self.store
        # the database keeps options as JSON, whose key order is its own; resolving again
        # puts them in the engine's order, which the products record (REDUCTION_ARGS)
        options = resolve(job.options, job.engine)
        in_containers = parse_engine(job.engine)[0].containers
        try:
            from .archive import frames_for_reduction

            frames = frames_for_reduction(job.frames, self.settings)
            plan = plan_steps(frames, job.outdir, options)
        except Exception as exc:
            return store.finish(job.id, "failed", f"could not plan: {type(exc).__name__}: {exc}")
        steps = [
            {"key": s.key, "task": s.task, "frame": s.frame, "arm": s.arm, "output": s.output}
            for s in plan.steps
        ]
        described = plan.describe(job.outdir)
        described["dashboard"] = self.dashboard
        completed = store.set_plan(job.id, described, steps)
        if not plan.steps:
            return store.finish(job.id, "failed", "; ".join(plan.problems) or "nothing to do")
        if job.attempts == 1:
            self._mail(job, "started", f"{len(plan.steps)} steps for {len(job.frames)} frames.")

        pdfs: list = []  # each product's PDF, drawn on the cluster as the product is written

        def record(result: StepResult, done: int, total: int) -> None:
            store.record_step(
                job.id,
                result.step.key,
                result.status,
                result.reason,
                result.seconds,
                "\n".join(result.log),
                result.worker,
                done,
                total,
                result.step.describe(),
            )
            if result.status == "done" and result.step.task in PRODUCT_TASKS:
                self._publish_spectra(job, result.step)
                # in the owner's fair share, as the steps: a PDF never waits behind someone
                # else's whole night
                pdfs.append(
                    self.client.submit(
                        product_pdf,
                        Path(result.step.output),
                        pure=False,
                        priority=self.fair.next(job.owner),
                    )
                )

        def retried(step, attempt: int, reason: str) -> None:
            store.event(
                job.id,
                "retry",
                f"{step.describe()}: attempt {attempt - 1} failed ({reason}); attempt {attempt}"
                + (" in a new container" if in_containers else ""),
            )

        def should_stop() -> str:
            if self._stop.is_set():
                raise _RunnerStopping
            return "cancelled by the user" if store.status(job.id) == "cancelling" else ""

        try:
            Path(job.outdir).mkdir(parents=True, exist_ok=True)
            while self.client is None:  # the cluster starting (the first request)
                self._ready.wait(0.5)
                should_stop()
            if self.dashboard and not described["dashboard"]:  # planned before it started
                described["dashboard"] = self.dashboard
                store.set_plan(job.id, described, steps)
            run = run_steps(
                plan,
                self.client,
                job.engine,
                options,
                on_result=record,
                completed=completed,
                priority=lambda: self.fair.next(job.owner),
                should_stop=should_stop,
                on_retry=retried,
                labels={"runner": self.name, "request": job.id, "platform": self.platform},
            )
            self._wait_for_pdfs(job, pdfs, should_stop)
        except _RunnerStopping:
            return job  # left running: the next runner takes it up when its lease ends
        except Exception as exc:
            final = store.finish(job.id, "failed", f"{type(exc).__name__}: {exc}")
            self._mail(final, "failed", final.message)
            return final
        statuses = collections.Counter(r.status for r in run.results.values())
        if statuses["cancelled"] and in_containers:
            # a cancelled step's container runs on in its worker: stop it now
            self._remove_containers(lambda labels: labels.get("request") != job.id)
        products = sum(
            1 for r in run.results.values() if r.status == "done" and r.step.task in PRODUCT_TASKS
        )
        summary = f"{statuses['done']} of {len(run.results)} steps done"
        problems = [r.problem() for r in run.failures() if r.status == "failed"]
        problems += run.problems
        if statuses["cancelled"]:
            status = "cancelled"
        elif run.ok:
            status = "done"
        elif products:
            status = "partial"
        else:
            status = "failed"
        message = summary + ("; " + "; ".join(problems[:5]) if problems else "")
        final = store.finish(job.id, status, message)
        if status != "cancelled":
            self._mail(final, status, message)
        return final

    def _publish_spectra(self, job: Reduction, step) -> None:
        """The product's spectra into ObsCore, SSA and DataLink at once (quick staging):
        a product that cannot be described is noted, and the request goes on."""
        from ..spectra.index import SpectrumIndex

        try:
            n = SpectrumIndex(self.settings).add_product(step.output, step.task, job.owner, job.id)
        except Exception as exc:  # the product stands; only its VO description is missing
            log.warning("spectra of %s not published: %s", step.output, exc)
            self.store.event(job.id, "vo", f"{step.describe()}: spectra not published: {exc}")
            return
        log.debug("%d spectra of %s published", n, step.output)

    def _wait_for_pdfs(self, job: Reduction, pdfs: list, should_stop) -> None:
        """Let the products' PDFs finish (after the last step, most already have): a PDF
        that fails is noted and drawn again at the download."""
        while not all(f.done() for f in pdfs):
            if should_stop():
                return
            time.sleep(0.25)
        for future in pdfs:
            if future.status != "finished":
                why = future.exception() if future.status == "error" else future.status
                self.store.event(job.id, "pdf", f"a product's PDF was not drawn: {why}")

    def _mail(self, job: Reduction, what: str, text: str) -> None:
        if not job.email:
            return
        base = self.settings.public_url
        page = f"{base}/voila/render/reduce.ipynb?job={job.id}"
        api = f"{base}/hectornb/api/reduce/jobs/{job.id}"
        body = f"Reduction request {job.id} {what}.\n\n{text}\n\nStatus: {page}\n"
        if job.final:
            body += "".join(
                f"{label}: {api}/download?what={what_}\n" for what_, label in DOWNLOADS.items()
            )
        result = notify.send(
            self.settings, job.email, f"[hectornb] request {job.id[:8]} {what}", body
        )
        self.store.event(job.id, "email", result)


def _import_engine() -> None:
    import hectornb.reduce.builtin.runner  # noqa: F401


_runner_lock = threading.Lock()
_runner: ReductionRunner | None = None


def ensure_runner(settings: Settings | None = None) -> ReductionRunner | None:
    """This process's embedded runner, started on first use (``HECTORNB_RUNNER=external``:
    none; a ``hectornb reduce runner`` service runs the jobs)."""
    global _runner
    settings = settings or get_settings()
    if settings.runner == "external":
        return None
    with _runner_lock:
        if _runner is None:
            _runner = ReductionRunner(settings).start()
        return _runner


def current_runner() -> ReductionRunner | None:
    """This process's embedded runner, if one was started."""
    return _runner


def stop_runner(timeout: float = 2) -> None:
    """Stop this process's embedded runner, if it has one (the server stopping)."""
    global _runner
    with _runner_lock:
        runner, _runner = _runner, None
    if runner is not None:
        runner.stop(timeout)


__all__ = ["ReductionRunner", "current_runner", "ensure_runner", "stop_runner"]
