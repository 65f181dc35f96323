"""Asynchronous TAP jobs (UWS 1.1), kept in PostgreSQL so they survive a restart.

A job is created PENDING with its parameters, runs when asked (``PHASE=RUN``), waits QUEUED
while its owner already has ``tap_max_running`` jobs executing, and ends COMPLETED (result
file under ``HECTORNB_HOME/tap/results``), ERROR (the message), or ABORTED. Any server
process may run queued jobs: a job is claimed with ``FOR UPDATE SKIP LOCKED`` and its
runner beats while it executes; a job whose runner stopped beating (the server was
restarted) is queued again. Jobs and results are deleted at their destruction time.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from ..db import DatabaseUnavailable, connect
from ..db.lease import Heartbeat, Lease
from ..errors import Invalid, NotFound
from .adql import ADQLError
from .result import resolve_format
from .service import TapError, TapService
from .stream import stream
from .uploads import UploadLimits, read_upload

log = logging.getLogger(__name__)

FINAL_PHASES = ("COMPLETED", "ERROR", "ABORTED", "ARCHIVED")
LIFETIME = dt.timedelta(days=2)
#: A runner holds a job while it executes it.
LEASE = Lease("tap_jobs", "job_id", "phase", ("EXECUTING",))


class JobNotFound(NotFound):
    pass


class JobStateError(Invalid):
    """A change the job's phase does not allow (e.g. new parameters once it ran)."""


class JobAborted(Exception):
    """The job was aborted before its query started."""


class JobQuotaExceeded(JobStateError):
    """One client has as many live jobs as the service keeps for one."""


@dataclass
class UwsJob:
    job_id: str
    owner: str | None
    run_id: str | None
    phase: str
    parameters: dict
    creation_time: dt.datetime
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    execution_duration: int
    destruction: dt.datetime
    error: str | None
    result_path: str | None
    result_type: str | None
    result_rows: int | None
    overflow: bool | None
    uploads: list
    base_url: str | None = None

    @classmethod
    def from_row(cls, r: dict) -> UwsJob:
        return cls(**{k: r[k] for k in cls.__dataclass_fields__})


def _results_dir(service: TapService) -> Path:
    d = service.settings.home / "tap" / "results"
    d.mkdir(parents=True, exist_ok=True)
    return d


class UwsJobStore:
    """UWS jobs of the TAP service: create, read, change, run."""

    def __init__(self, service: TapService):
        self.service = service

    # ---- reading ---------------------------------------------------------------------------

    def get(self, job_id: str, user: str | None) -> UwsJob:
        """The job, if ``user`` owns it (an anonymous job belongs to no one: anyone with its
        ID may read it, as with any public UWS service)."""
        with connect() as conn:
            r = conn.execute("SELECT * FROM tap_jobs WHERE job_id = %s", (job_id,)).fetchone()
        if r is None or (r["owner"] is not None and r["owner"] != user):
            raise JobNotFound(job_id)
        return UwsJob.from_row(r)

    def list(
        self,
        user: str | None,
        phases: list[str] = (),
        after: dt.datetime | None = None,
        last: int | None = None,
    ) -> list[UwsJob]:
        """``user``'s jobs, newest first with LAST. Anonymous callers get none: anonymous
        jobs belong to no one, and whoever holds a job's unguessable ID reaches it."""
        if user is None:
            return []
        sql = ["SELECT * FROM tap_jobs WHERE owner IS NOT DISTINCT FROM %s"]
        args: list = [user]
        if phases:
            sql.append("AND phase = ANY(%s)")
            args.append(list(phases))
        else:
            sql.append("AND phase <> 'ARCHIVED'")
        if after is not None:
            sql.append("AND creation_time > %s")
            args.append(after)
        sql.append("ORDER BY creation_time DESC")
        if last is not None:
            sql.append("LIMIT %s")
            args.append(last)
        with connect() as conn:
            rows = conn.execute(" ".join(sql), args).fetchall()
        jobs = [UwsJob.from_row(r) for r in rows]
        return jobs if last is not None else jobs[::-1]

    # ---- changing --------------------------------------------------------------------------

    def create(
        self,
        user: str | None,
        parameters: dict,
        uploads: list[dict] = (),
        client: str | None = None,
        base_url: str | None = None,
    ) -> UwsJob:
        """A new PENDING job with lower-cased parameter names. ``client`` (an anonymous
        caller's address) keeps anonymous callers' limits apart; ``base_url`` is the
        service's address as the caller reached it (for the links in its result)."""
        params = {k.lower(): v for k, v in parameters.items()}
        run_id = params.pop("runid", None)
        if run_id is not None and len(run_id) > 64:
            raise JobStateError("RUNID is at most 64 characters")
        job_id = secrets.token_hex(16)  # 128 bits: an anonymous job's ID is its only key
        now = dt.datetime.now(dt.UTC)
        client = None if user is not None else (client or "anonymous")
        quota = self.service.settings.tap_max_jobs
        with connect() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"tap jobs {user or client}",)
            )
            live = conn.execute(
                "SELECT count(*) AS n FROM tap_jobs WHERE phase IN ('PENDING', 'QUEUED', "
                "'EXECUTING') AND (owner = %s OR (owner IS NULL AND client = %s))",
                (user, client),
            ).fetchone()["n"]
            if live >= quota:
                raise JobQuotaExceeded(
                    f"{live} of your jobs are pending, queued or executing, the most this "
                    f"service keeps for one client ({quota}); wait for them or delete some"
                )
            conn.execute(
                "INSERT INTO tap_jobs (job_id, owner, client, run_id, parameters, uploads, "
                "execution_duration, destruction, base_url) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    job_id,
                    user,
                    client,
                    run_id,
                    json.dumps(params),
                    json.dumps(list(uploads)),
                    self.service.settings.tap_async_timeout,
                    now + LIFETIME,
                    base_url,
                ),
            )
        return self.get(job_id, user)

    def _update(
        self,
        job_id: str,
        user: str | None,
        sql: str,
        args: tuple,
        allowed: tuple[str, ...] | None = None,
        what: str = "",
    ) -> UwsJob:
        with connect() as conn:
            r = conn.execute(
                "SELECT owner, phase FROM tap_jobs WHERE job_id = %s FOR UPDATE", (job_id,)
            ).fetchone()
            if r is None or (r["owner"] is not None and r["owner"] != user):
                raise JobNotFound(job_id)
            if allowed is not None and r["phase"] not in allowed:
                raise JobStateError(f"{what} is not possible in phase {r['phase']}")
            conn.execute(sql, (*args, job_id))
        return self.get(job_id, user)

    def set_parameters(self, job_id: str, user: str | None, parameters: dict) -> UwsJob:
        params = {k.lower(): v for k, v in parameters.items()}
        run_id = params.pop("runid", None)
        job = self.get(job_id, user)
        if params and job.phase != "PENDING":
            raise JobStateError(f"parameters can change only while PENDING, not {job.phase}")
        merged = {**job.parameters, **params}
        return self._update(
            job_id,
            user,
            "UPDATE tap_jobs SET parameters = %s, run_id = coalesce(%s, run_id) WHERE job_id = %s",
            (json.dumps(merged), run_id),
        )

    def set_destruction(self, job_id: str, user: str | None, when: dt.datetime) -> UwsJob:
        latest = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        when = min(when if when.tzinfo else when.replace(tzinfo=dt.UTC), latest)
        return self._update(
            job_id, user, "UPDATE tap_jobs SET destruction = %s WHERE job_id = %s", (when,)
        )

    def set_execution_duration(self, job_id: str, user: str | None, seconds: int) -> UwsJob:
        limit = self.service.settings.tap_async_timeout
        seconds = limit if seconds <= 0 else min(seconds, limit)
        return self._update(
            job_id,
            user,
            "UPDATE tap_jobs SET execution_duration = %s WHERE job_id = %s",
            (seconds,),
            ("PENDING",),
            "changing the execution duration",
        )

    def run(self, job_id: str, user: str | None) -> UwsJob:
        job = self.get(job_id, user)
        if job.phase in ("QUEUED", "EXECUTING", "COMPLETED"):
            return job
        if job.phase != "PENDING":
            raise JobStateError(f"a job in phase {job.phase} cannot be run again")
        return self._update(
            job_id, user, "UPDATE tap_jobs SET phase = 'QUEUED' WHERE job_id = %s", ()
        )

    def abort(self, job_id: str, user: str | None) -> UwsJob:
        job = self.get(job_id, user)
        if job.phase in FINAL_PHASES:
            return job
        with connect() as conn:
            # stop its query now (the backend is this job's while the job is EXECUTING)
            conn.execute(
                "SELECT pg_cancel_backend(backend_pid) FROM tap_jobs WHERE job_id = %s AND "
                "phase = 'EXECUTING' AND backend_pid IS NOT NULL FOR UPDATE",
                (job_id,),
            )
            conn.execute(
                "UPDATE tap_jobs SET phase = 'ABORTED', end_time = now() WHERE job_id = %s",
                (job_id,),
            )
        return self.get(job_id, user)

    def attach_uploads(self, job_id: str, uploads: list[tuple[str, dict]]) -> None:
        """Keep a new job's uploads: inline tables go to files beside the results (the job
        reads them when it runs), URLs are fetched then."""
        folder = self.service.settings.home / "tap" / "uploads" / job_id
        kept = []
        for name, source in uploads:
            if "bytes" in source:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / name
                path.write_bytes(source["bytes"])
                kept.append({"name": name, "uri": source["uri"], "source": {"path": str(path)}})
            else:
                kept.append({"name": name, "uri": source["uri"], "source": {"url": source["url"]}})
        with connect() as conn:
            conn.execute(
                "UPDATE tap_jobs SET uploads = %s WHERE job_id = %s", (json.dumps(kept), job_id)
            )

    def delete(self, job_id: str, user: str | None) -> None:
        job = self.get(job_id, user)
        with connect() as conn:
            conn.execute("DELETE FROM tap_jobs WHERE job_id = %s", (job_id,))
        if job.result_path:
            Path(job.result_path).unlink(missing_ok=True)
        shutil.rmtree(self.service.settings.home / "tap" / "uploads" / job_id, ignore_errors=True)

    def expire(self) -> int:
        """Delete jobs past their destruction time (and their results)."""
        with connect() as conn:
            rows = conn.execute(
                "DELETE FROM tap_jobs WHERE destruction < now() RETURNING job_id, result_path"
            ).fetchall()
        for r in rows:
            if r["result_path"]:
                Path(r["result_path"]).unlink(missing_ok=True)
            shutil.rmtree(
                self.service.settings.home / "tap" / "uploads" / r["job_id"], ignore_errors=True
            )
        return len(rows)

    # ---- executing -------------------------------------------------------------------------

    def claim(self, runner: str, slots: int) -> list[UwsJob]:
        """Queued jobs for this runner to execute, honouring each owner's running limit."""
        if slots <= 0:
            return []
        limit = self.service.settings.tap_max_running
        with connect() as conn:
            conn.execute(
                sql.SQL(
                    "UPDATE tap_jobs SET phase = 'QUEUED', heartbeat = NULL, runner = NULL WHERE {}"
                ).format(LEASE.lapsed(self.service.settings.job_lease))
            )
            # one claimer at a time across processes, so two cannot both take the last
            # free place of the same user (the limits are counts over all of a user's jobs,
            # which SKIP LOCKED on single rows cannot keep)
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('hectornb tap claim'))")
            # each user, and each anonymous client, has its own limit
            who = "coalesce('user:' || owner, 'client:' || coalesce(client, ''))"
            running = {
                r["who"]: r["n"]
                for r in conn.execute(
                    f"SELECT {who} AS who, count(*) AS n FROM tap_jobs WHERE phase = 'EXECUTING' "
                    "GROUP BY 1"
                )
            }
            # and all anonymous clients together no more than one user: behind a proxy they
            # may all be one address, and the runner's threads are for signed-in users too
            anonymous = sum(n for w, n in running.items() if w.startswith("client:"))
            rows = []
            for r in conn.execute(
                f"SELECT job_id, {who} AS who FROM tap_jobs WHERE phase = "
                "'QUEUED' ORDER BY creation_time LIMIT 500"
            ):
                anon = r["who"].startswith("client:")
                if (
                    running.get(r["who"], 0) < limit
                    and len(rows) < slots
                    and not (anon and anonymous >= limit)
                ):
                    running[r["who"]] = running.get(r["who"], 0) + 1
                    anonymous += anon
                    rows.append(r)
            ids = [r["job_id"] for r in rows]
            if ids:
                conn.execute(
                    "UPDATE tap_jobs SET phase = 'EXECUTING', start_time = now(), "
                    "runner = %s, heartbeat = now() WHERE job_id = ANY(%s)",
                    (runner, ids),
                )
            out = conn.execute("SELECT * FROM tap_jobs WHERE job_id = ANY(%s)", (ids,)).fetchall()
        return [UwsJob.from_row(r) for r in out]

    def beat(self, runner: str, job_ids: list[str]) -> None:
        """Renew the leases of the jobs ``runner`` is really executing: one whose thread
        died (the database went away under it) lapses and is run again."""
        with connect() as conn:
            LEASE.renew(conn, runner, job_ids)

    def execute(self, job: UwsJob) -> None:
        """Run a claimed job to its end; its phase says how it went."""
        p = job.parameters
        try:
            if (p.get("lang") or "ADQL").upper() not in ("ADQL", "ADQL-2.0", "ADQL-2.1"):
                raise TapError(f"LANG {p.get('lang')!r} is not supported; use ADQL")
            writer, content_type = resolve_format(p.get("responseformat") or p.get("format"))
            maxrec = self.service.maxrec(p.get("maxrec"))
            limits = UploadLimits.from_settings(self.service.settings)
            uploads = [read_upload(u["name"], u["source"], limits) for u in job.uploads]
            path = _results_dir(self.service) / f"{job.job_id}.{writer}"
            with (
                self.service.rows(
                    p.get("query") or "",
                    job.owner,
                    maxrec=maxrec,
                    uploads=uploads,
                    timeout=job.execution_duration,
                    on_connection=lambda pid: self._started(job, pid),
                    base_url=job.base_url or "/",
                ) as rows,
                open(path, "wb") as f,
            ):  # written as read: memory stays flat
                for chunk in stream(rows, writer, inline_errors=False):
                    f.write(chunk)
            self._finish(
                job.job_id, "COMPLETED", None, str(path), content_type, rows.nrows, rows.overflow
            )
        except (ADQLError, TapError, ValueError) as exc:
            self._finish(job.job_id, "ERROR", str(exc))
        except JobAborted:
            return  # aborted between its claim and its start: it stays ABORTED, never ran
        except DatabaseUnavailable:
            raise  # not the job's fault: it stays EXECUTING and is run again once it is back
        except Exception as exc:  # the job says what went wrong; the runner goes on
            log.exception("TAP job %s failed", job.job_id)
            self._finish(job.job_id, "ERROR", f"internal error: {exc}")

    def _started(self, job: UwsJob, backend_pid: int) -> None:
        """Note the job's database backend (ABORT cancels its query) before the query
        starts, unless the job was aborted since it was claimed: then it does not start."""
        with connect() as conn:
            noted = conn.execute(
                "UPDATE tap_jobs SET backend_pid = %s WHERE job_id = %s "
                "AND phase = 'EXECUTING' RETURNING job_id",
                (backend_pid, job.job_id),
            ).fetchone()
        if noted is None:
            raise JobAborted(job.job_id)

    def _finish(
        self,
        job_id: str,
        phase: str,
        error: str | None,
        path: str | None = None,
        content_type: str | None = None,
        rows: int | None = None,
        overflow: bool | None = None,
    ) -> None:
        with connect() as conn:
            # an abort while it ran wins: the job stays ABORTED and keeps no result
            r = conn.execute(
                "UPDATE tap_jobs SET phase = %s, error = %s, result_path = %s, "
                "result_type = %s, result_rows = %s, overflow = %s, end_time = now(), "
                "runner = NULL WHERE job_id = %s AND phase = 'EXECUTING' RETURNING job_id",
                (phase, error, path, content_type, rows, overflow, job_id),
            ).fetchone()
        if r is None and path:
            Path(path).unlink(missing_ok=True)


class UwsRunner:
    """Runs queued jobs on a few threads of this process."""

    def __init__(self, store: UwsJobStore, workers: int = 4):
        self.store = store
        self.workers = workers
        self.name = f"runner-{secrets.token_hex(4)}"
        self._running: set[str] = set()  # the jobs on this runner's threads
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="tap-job")
        self._thread = threading.Thread(target=self._loop, name="tap-dispatch", daemon=True)

    def start(self) -> UwsRunner:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 2) -> None:
        """Stop claiming jobs; jobs running go on in their threads until the process ends
        (a job cut off runs again after a restart)."""
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _execute(self, job: UwsJob) -> None:
        try:
            self.store.execute(job)
        finally:
            with self._lock:
                self._running.discard(job.job_id)
            self._wake.set()

    def _loop(self) -> None:
        last_expire = 0.0
        heartbeat = Heartbeat(self.store.service.settings.job_lease)
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            try:
                now = time.monotonic()
                if heartbeat.due():
                    with self._lock:
                        running = list(self._running)
                    self.store.beat(self.name, running)
                if now - last_expire > 60:
                    self.store.expire()
                    last_expire = now
                with self._lock:
                    free = self.workers - len(self._running)
                for job in self.store.claim(self.name, free):
                    with self._lock:
                        self._running.add(job.job_id)
                    self._pool.submit(self._execute, job)
            except Exception as exc:  # the database may be restarting: try again shortly
                log.warning("TAP job dispatch failed (trying again in 5 s): %s", exc)
                self._stop.wait(5.0)
