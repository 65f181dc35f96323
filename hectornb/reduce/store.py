"""Reduction jobs in PostgreSQL: requests, their steps, events and state.

The database is the system of record; the Dask cluster only executes. A job is ``queued``
until a runner claims it (``running``, with a heartbeat), then ``done`` (every step),
``partial`` (some steps failed; the rest has products), ``failed`` (nothing could be
reduced) or ``cancelled``. A runner that stops beating (its server was killed) loses its
jobs to the next runner after the lease, which resumes them from the steps already written.

Identical requests (same engine, options and frames) share a product directory
(``same_as``); a partial unique index keeps two of them from running at the same time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ..config import Settings
from ..db import engine
from ..db.lease import Lease
from ..errors import Forbidden, NotFound, quote_field

#: Statuses a job ends in.
FINAL_STATUSES = ("done", "partial", "failed", "cancelled")
#: A runner holds a request while it runs it, or is cancelling it.
LEASE = Lease("reduce_job", "id", "status", ("running", "cancelling"))


@dataclass
class Reduction:
    """One reduction request and where it stands."""

    id: str
    owner: str
    created: dt.datetime
    status: str
    engine: str
    options: dict[str, str]
    frames: list[str]
    email: str | None
    same_as: str
    outdir: str
    steps_total: int = 0
    steps_done: int = 0
    current: str = ""
    message: str = ""
    started: dt.datetime | None = None
    finished: dt.datetime | None = None
    attempts: int = 0
    plan: dict | None = field(default=None, repr=False)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def to_json(self, with_plan: bool = False) -> dict:
        out = asdict(self)
        out["n_frames"] = len(self.frames)
        if not with_plan:
            out.pop("plan")
        return out


_JOB_COLUMNS = ", ".join(f.name for f in Reduction.__dataclass_fields__.values())


def _job(row: dict) -> Reduction:
    row = dict(row)
    row["id"] = str(row["id"])
    return Reduction(**{k: row[k] for k in Reduction.__dataclass_fields__})


class ReductionStore:
    """Every read and write of the Reduce service's tables.

    Methods taking ``user`` enforce ownership: another user's job is ``Forbidden``.
    """

    def __init__(self, settings: Settings | None = None):
        self.settings = settings

    def _connect(self):
        return engine.connect(self.settings)

    # -- the astronomer's side ---------------------------------------------------------

    def create(
        self,
        owner: str,
        frames: list[str],
        engine_name: str,
        options: dict[str, str],
        email: str | None,
        same_as: str,
        outdir: str,
    ) -> Reduction:
        job_id = str(uuid.uuid4())
        with self._connect() as conn:
            row = conn.execute(
                f"INSERT INTO reduce_job (id, owner, engine, options, frames, email, same_as,"
                f" outdir) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {_JOB_COLUMNS}",
                (job_id, owner, engine_name, Jsonb(options), frames, email, same_as, outdir),
            ).fetchone()
            conn.execute("NOTIFY hectornb_reduce")  # wakes the runners when this commits
            _event(
                conn,
                job_id,
                "submitted",
                f"{len(frames)} frames, engine {engine_name}, options "
                f"{json.dumps(options, sort_keys=True) if options else 'defaults'}",
            )
        return _job(row)

    def get(self, job_id: str, user: str | None) -> Reduction:
        """The job; ``user`` None is the runner (no ownership check)."""
        try:
            job_id = str(uuid.UUID(str(job_id)))  # one spelling: PostgreSQL reads no other
        except ValueError:
            raise NotFound(f"no reduction request {quote_field(str(job_id))}") from None
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM reduce_job WHERE id = %s", (job_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"no reduction request {job_id}")
        if user is not None and row["owner"] != user:
            raise Forbidden(f"reduction request {job_id} belongs to another user")
        return _job(row)

    def list(self, user: str, days: float = 7.0) -> list[Reduction]:
        """The user's jobs of the last ``days`` days, newest first."""
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM reduce_job WHERE owner = %s"
                " AND created > now() - make_interval(secs => %s) ORDER BY created DESC",
                (user, days * 86400.0),
            ).fetchall()
        return [_job(r) for r in rows]

    def events(self, job_id: str, user: str | None, after: int = 0) -> list[dict]:
        job_id = self.get(job_id, user).id
        with self._connect() as conn:
            return conn.execute(
                "SELECT seq, at, kind, message FROM reduce_event WHERE job = %s AND seq > %s"
                " ORDER BY seq",
                (job_id, after),
            ).fetchall()

    def steps(self, job_id: str, user: str | None) -> list[dict]:
        job_id = self.get(job_id, user).id
        with self._connect() as conn:
            return conn.execute(
                "SELECT key, seq, task, frame, arm, output, status, reason, seconds, log,"
                " worker, finished FROM reduce_step WHERE job = %s ORDER BY seq",
                (job_id,),
            ).fetchall()

    def cancel(self, job_id: str, user: str) -> Reduction:
        """Ask for a job to stop: a queued job stops at once, a running one between steps."""
        job = self.get(job_id, user)
        if job.final:
            return job
        job_id = job.id
        with self._connect() as conn:
            conn.execute(
                "UPDATE reduce_job SET status = CASE status WHEN 'queued' THEN 'cancelled'"
                " ELSE 'cancelling' END, finished = CASE status WHEN 'queued' THEN now()"
                " ELSE finished END WHERE id = %s AND status IN ('queued', 'running')",
                (job_id,),
            )
            _event(conn, job_id, "cancel", f"cancelled by {user}")
        return self.get(job_id, user)

    # -- the runner's side -------------------------------------------------------------

    @contextlib.contextmanager
    def listen(self):
        """A function ``wait(seconds)`` that returns early when a request is submitted
        (PostgreSQL LISTEN/NOTIFY on a connection of its own)."""
        conn = psycopg.connect(engine.database_url(self.settings), autocommit=True)
        try:
            conn.execute("LISTEN hectornb_reduce")

            def wait(seconds: float) -> None:
                for _ in conn.notifies(timeout=seconds, stop_after=1):
                    pass

            yield wait
        finally:
            conn.close()

    def claim(self, runner: str, lease_seconds: float, root: str) -> Reduction | None:
        """The oldest queued job writing under ``root`` (the runner's ``HECTORNB_HOME``:
        runners serve the data directory they can write), or a running one whose runner
        stopped beating, now held by ``runner``; None when there is nothing to do. A job
        identical to one running waits for it."""
        with self._connect() as conn:
            stale = conn.execute(
                sql.SQL(
                    "UPDATE reduce_job SET runner = NULL, status = CASE status WHEN "
                    "'cancelling' THEN 'cancelled' ELSE 'queued' END WHERE {} AND "
                    "starts_with(outdir, %s) RETURNING id, status"
                ).format(LEASE.lapsed(lease_seconds)),
                (root,),
            ).fetchall()
            for row in stale:
                if row["status"] == "queued":
                    _event(
                        conn,
                        str(row["id"]),
                        "resumed",
                        "its server stopped while it ran;"
                        " it resumes from the steps already written",
                    )
                else:
                    _event(conn, str(row["id"]), "finished", "cancelled: its server stopped")
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id FROM reduce_job j WHERE status = 'queued' AND starts_with(outdir, %s)"
                " AND NOT EXISTS (SELECT 1 FROM reduce_job r WHERE r.same_as = j.same_as"
                "  AND r.status = 'running') ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED",
                (root,),
            ).fetchone()
            if row is None:
                return None
            try:
                with conn.transaction():
                    conn.execute(
                        "UPDATE reduce_job SET status = 'running', runner = %s,"
                        " heartbeat = now(), started = coalesce(started, now()),"
                        " attempts = attempts + 1 WHERE id = %s",
                        (runner, row["id"]),
                    )
            except psycopg.errors.UniqueViolation:
                return None  # an identical job started meanwhile: this one waits
            _event(conn, str(row["id"]), "started", f"picked up by {runner}")
        return self.get(str(row["id"]), None)

    def beat(self, runner: str, job_ids: list[str]) -> None:
        """The runner is alive and running ``job_ids``: renew their leases (only theirs: a
        job whose thread died, say when the database went away under it, must lapse so
        that it is taken up again)."""
        with self._connect() as conn:
            LEASE.renew(conn, runner, job_ids)

    def platform_identity(self) -> str:
        """This database's platform identity (made once, at its creation)."""
        with self._connect() as conn:
            return str(conn.execute("SELECT id FROM platform").fetchone()["id"])

    def held_by_live_runners(self, lease_seconds: float, engines: list[str]) -> set[tuple]:
        """(runner, job id) of the running jobs of ``engines`` (names, any version) whose
        runner beats; none of the other (runner, job) pairs has a live owner."""
        with self._connect() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT runner, id::text AS id FROM reduce_job WHERE status = 'running'"
                    " AND split_part(engine, '@', 1) = ANY(%s) AND NOT ({})"
                ).format(LEASE.lapsed(lease_seconds)),
                (engines,),
            ).fetchall()
        return {(r["runner"], r["id"]) for r in rows}

    def has_unfinished(self, engines: list[str]) -> bool:
        """Whether a job of one of ``engines`` (names, any version) is queued or running."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM reduce_job WHERE split_part(engine, '@', 1)"
                " = ANY(%s)"
                " AND status IN ('queued', 'running', 'cancelling')) AS any",
                (engines,),
            ).fetchone()
        return bool(row["any"])

    def release(self, job_id: str, why: str) -> None:
        """Give a running job back to the queue (its runner is stopping)."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE reduce_job SET status = CASE status WHEN 'cancelling' THEN"
                " 'cancelled' ELSE 'queued' END, runner = NULL WHERE id = %s"
                " AND status IN ('running', 'cancelling')",
                (job_id,),
            )
            _event(conn, job_id, "released", f"{why}; the next runner resumes it")

    def status(self, job_id: str) -> str:
        with self._connect() as conn:
            row = conn.execute("SELECT status FROM reduce_job WHERE id = %s", (job_id,)).fetchone()
        return row["status"] if row else "cancelled"

    def set_plan(self, job_id: str, plan: dict, steps: list[dict]) -> set[str]:
        """Store the plan and its steps (kept from an earlier attempt); returns the keys of
        the steps an earlier attempt, or an identical request, finished."""
        with self._connect() as conn, conn.cursor() as cur:
            cur.execute(
                "UPDATE reduce_job SET plan = %s, steps_total = %s WHERE id = %s",
                (Jsonb(plan), len(steps), job_id),
            )
            cur.executemany(
                "INSERT INTO reduce_step (job, key, seq, task, frame, arm, output)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (job, key) DO NOTHING",
                [
                    (job_id, s["key"], i, s["task"], s["frame"], s["arm"], s["output"])
                    for i, s in enumerate(steps)
                ],
            )
            done = cur.execute(
                "SELECT DISTINCT s.key FROM reduce_step s JOIN reduce_job j ON j.id = s.job"
                " WHERE j.same_as = (SELECT same_as FROM reduce_job WHERE id = %s)"
                " AND s.status = 'done'",
                (job_id,),
            ).fetchall()
        return {r["key"] for r in done}

    def record_step(
        self,
        job_id: str,
        key: str,
        status: str,
        reason: str,
        seconds: float,
        log: str,
        worker: str,
        done: int,
        total: int,
        describe: str,
    ) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE reduce_step SET status = %s, reason = %s, seconds = %s, log = %s,"
                " worker = %s, finished = now() WHERE job = %s AND key = %s",
                (status, reason, seconds, log, worker, job_id, key),
            )
            conn.execute(
                "UPDATE reduce_job SET steps_done = %s, steps_total = %s, current = %s,"
                " heartbeat = now() WHERE id = %s",
                (done, total, describe, job_id),
            )
            text = f"{status} {describe}" + (
                f": {reason}" if status != "done" else f" ({seconds:.1f} s)"
            )
            _event(conn, job_id, "step", text)

    def finish(self, job_id: str, status: str, message: str) -> Reduction:
        with self._connect() as conn:
            conn.execute(
                "UPDATE reduce_job SET status = %s, message = %s, finished = now(),"
                " runner = NULL, current = '' WHERE id = %s",
                (status, message, job_id),
            )
            _event(conn, job_id, "finished", f"{status}: {message}")
        return self.get(job_id, None)

    def event(self, job_id: str, kind: str, message: str) -> None:
        with self._connect() as conn:
            _event(conn, job_id, kind, message)


def _event(conn, job_id: str, kind: str, message: str) -> None:
    conn.execute(
        "INSERT INTO reduce_event (job, kind, message) VALUES (%s, %s, %s)", (job_id, kind, message)
    )
