"""One client API for this platform's TAP service and any other, as the TAP app uses them.

`LocalTap` talks to this platform's service in-process, as the signed-in user (jobs it
submits are run by the server's job runner); `RemoteTap` talks to any TAP URL through pyvo.
Both return astropy Tables and plain dicts, so the app does not care which it has.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import server_base_url
from ..errors import HectornbError, Invalid, NotFound, RemoteFailure
from .result import Result, write
from .service import TapService
from .uploads import upload_from_table

if TYPE_CHECKING:  # astropy.table loads with the first result
    from astropy.table import Table


@dataclass
class QueryResult:
    table: Table
    overflow: bool


def result_to_table(result: Result) -> Table:
    """A service `Result` as an astropy Table, through its own VOTable (so units, UCDs,
    NULLs and types are what any client sees)."""
    from astropy.io.votable import parse_single_table

    return parse_single_table(io.BytesIO(write(result, "votable"))).to_table(
        use_names_over_ids=True
    )


def hints(position: tuple[str, str] | None, indexed: set[str]) -> dict:
    """How to query a table fast: a cone template when its position is indexed."""
    if position is None:
        return {"hint": None, "cone": None}
    ra, dec = position
    cone = f"1 = CONTAINS(POINT({ra}, {dec}), CIRCLE(<ra>, <dec>, <radius in degrees>))"
    fast = ra in indexed and dec in indexed
    hint = f"positions {ra}, {dec}" + (
        " are indexed: cones and cross-matches on them are fast"
        if fast
        else ": not indexed, a cone reads the whole table"
    )
    return {"hint": hint, "cone": cone}


class LocalTap:
    """This platform's TAP service, in-process, for ``user``."""

    name = "this platform"

    def __init__(self, user: str, service: TapService | None = None):
        self.user = user
        self.service = service or TapService()
        from .uws import UwsJobStore

        self.jobs_store = UwsJobStore(self.service)

    def describe(self) -> list[dict]:
        """Schemas → tables → columns the user may query, with keys and hints."""
        from .publish import load_keys, load_schema_descriptions

        catalog = self.service.catalog(self.user)
        descriptions = load_schema_descriptions()
        keys = load_keys()
        schemas: dict[str, dict] = {}
        for t in catalog.tables.values():
            s = schemas.setdefault(t.schema, {"name": t.schema, "tables": []})
            s["description"] = descriptions.get(t.schema)
            s["tables"].append(
                {
                    "name": t.name,
                    "description": t.description,
                    "type": t.table_type,
                    "columns": [
                        {
                            "name": c.name,
                            "datatype": c.datatype,
                            "arraysize": c.arraysize,
                            "unit": c.unit,
                            "ucd": c.ucd,
                            "indexed": c.indexed,
                            "description": c.description,
                        }
                        for c in t.columns
                    ],
                    "keys": [
                        {"target": k["target_table"], "columns": k["columns"]}
                        for k in keys
                        if k["from_table"] == t.name
                    ],
                    **hints(t.position(), {c.name for c in t.columns if c.indexed}),
                }
            )
        return list(schemas.values())

    def capabilities(self) -> dict:
        s = self.service.settings
        return {
            "adql": ["2.1", "2.0"],
            "maxrec": s.tap_maxrec,
            "hard_maxrec": s.tap_hard_maxrec,
            "upload_limit": s.tap_upload_limit,
            "execution_duration": s.tap_async_timeout,
            # the platform's other VO services, beside ivoa.obscore
            "ssa": server_base_url() + "hectornb/ssa/",
            "datalink": server_base_url() + "hectornb/datalink/links",
        }

    def examples(self) -> list[dict]:
        from .examples import examples

        names = {n.lower() for n in self.service.catalog(self.user).tables}
        return [{"name": name, "query": q} for _, name, _, q in examples(names)]

    def run(
        self, adql: str, maxrec: int | None = None, uploads: dict[str, Table] | None = None
    ) -> QueryResult:
        ups = [upload_from_table(t, n) for n, t in (uploads or {}).items()]
        result = self.service.query(
            adql,
            self.user,
            maxrec=self.service.maxrec(maxrec),
            uploads=ups,
            base_url=server_base_url(),
        )
        return QueryResult(result_to_table(result), result.overflow)

    def submit(
        self, adql: str, maxrec: int | None = None, uploads: dict[str, Table] | None = None
    ) -> str:
        params = {"lang": "ADQL", "query": adql}
        if maxrec is not None:
            params["maxrec"] = str(maxrec)
        job = self.jobs_store.create(self.user, params, base_url=server_base_url())
        if uploads:
            files = []
            for name, table in uploads.items():
                out = io.BytesIO()
                table.write(out, format="votable")
                files.append((name, {"bytes": out.getvalue(), "uri": f"param:{name}"}))
            self.jobs_store.attach_uploads(job.job_id, files)
        self.jobs_store.run(job.job_id, self.user)
        return job.job_id

    def jobs(self) -> list[dict]:
        return [
            {
                "id": j.job_id,
                "phase": j.phase,
                "query": j.parameters.get("query", ""),
                "created": j.creation_time.isoformat(timespec="seconds"),
                "rows": j.result_rows,
                "error": j.error,
            }
            for j in self.jobs_store.list(self.user, last=20)
        ]

    def resume(self, ref: str) -> str:
        """A job of this service by its ID or URL (it must be the user's)."""
        job_id = ref.rstrip("/").rsplit("/", 1)[-1]
        return self.jobs_store.get(job_id, self.user).job_id

    def job_result(self, job_id: str) -> QueryResult:
        job = self.jobs_store.get(job_id, self.user)
        if job.phase != "COMPLETED" or not job.result_path:
            raise Invalid(f"job {job_id} has no result yet (phase {job.phase})")
        from astropy.io.votable import parse_single_table

        with open(job.result_path, "rb") as f:
            table = parse_single_table(f).to_table(use_names_over_ids=True)
        return QueryResult(table, bool(job.overflow))

    def abort(self, job_id: str) -> None:
        self.jobs_store.abort(job_id, self.user)

    def delete(self, job_id: str) -> None:
        self.jobs_store.delete(job_id, self.user)


def _position(columns) -> tuple[str, str] | None:
    ra = [c.name for c in columns if (c.ucd or "").startswith("pos.eq.ra;meta.main")]
    dec = [c.name for c in columns if (c.ucd or "").startswith("pos.eq.dec;meta.main")]
    return (ra[0], dec[0]) if ra and dec else None


def _said_plainly(cls):
    """Every public method of ``cls`` raises `RemoteFailure` for whatever the remote
    service's failure looks like in pyvo, requests or astropy (their exceptions have no
    common root), naming the service: the app catches the platform's errors alone."""

    def wrap(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except HectornbError:
                raise
            except Exception as exc:  # the boundary to a service elsewhere
                raise RemoteFailure(f"{self.name}: {type(exc).__name__}: {exc}") from exc

        return call

    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_"):
            setattr(cls, name, wrap(value))
    return cls


@_said_plainly
class RemoteTap:
    """Any TAP service, through pyvo (used when it is reachable); ``session`` carries the
    caller's credentials (a `requests.Session`), ``name`` how the app shows the service.
    Its failures are `RemoteFailure`s."""

    def __init__(self, url: str, session=None, name: str | None = None):
        import pyvo

        self.name = name or url
        self.url = url.rstrip("/")
        self.session = session
        self.service = pyvo.dal.TAPService(self.url, session=session)
        self._jobs: dict[str, object] = {}

    def describe(self) -> list[dict]:
        schemas: dict[str, dict] = {}
        for t in self.service.tables:
            schema = t.name.split(".")[0] if "." in t.name else ""
            s = schemas.setdefault(schema, {"name": schema, "tables": [], "description": None})
            s["tables"].append(
                {
                    "name": t.name,
                    "description": t.description,
                    "type": t.type or "table",
                    "columns": [
                        {
                            "name": c.name,
                            "datatype": getattr(c.datatype, "content", None),
                            "arraysize": getattr(c.datatype, "arraysize", None),
                            "unit": c.unit,
                            "ucd": c.ucd,
                            "indexed": "indexed" in c.flags,
                            "description": c.description,
                        }
                        for c in t.columns
                    ],
                    "keys": [
                        {
                            "target": k.targettable,
                            "columns": [[f.fromcolumn, f.targetcolumn] for f in k.fkcolumns],
                        }
                        for k in getattr(t, "foreignkeys", [])
                    ],
                    **hints(
                        _position(t.columns), {c.name for c in t.columns if "indexed" in c.flags}
                    ),
                }
            )
        return list(schemas.values())

    def capabilities(self) -> dict:
        caps = {
            "adql": [],
            "maxrec": None,
            "hard_maxrec": None,
            "upload_limit": None,
            "execution_duration": None,
        }
        try:
            caps["maxrec"] = self.service.maxrec
            caps["hard_maxrec"] = self.service.hardlimit
            caps["upload_limit"] = (
                self.service.upload_limit if hasattr(self.service, "upload_limit") else None
            )
            for lang in self.service.get_tap_capability().languages:
                caps["adql"] += [str(getattr(v, "content", v)) for v in lang.versions]
        except Exception:  # a service with thin capabilities still answers queries
            pass
        return caps

    def examples(self) -> list[dict]:
        try:
            return [
                {"name": getattr(e, "name", "") or e["QUERY"][:40], "query": e["QUERY"]}
                for e in self.service.examples
            ]
        except Exception:  # examples are optional in TAP 1.1
            return []

    def run(
        self, adql: str, maxrec: int | None = None, uploads: dict[str, Table] | None = None
    ) -> QueryResult:
        r = self.service.run_sync(adql, maxrec=maxrec, uploads=uploads or None)
        return QueryResult(r.to_table(), r.query_status == "OVERFLOW")

    def submit(
        self, adql: str, maxrec: int | None = None, uploads: dict[str, Table] | None = None
    ) -> str:
        job = self.service.submit_job(adql, maxrec=maxrec, uploads=uploads or None)
        job.run()
        self._jobs[job.job_id] = job
        return job.job_id

    def jobs(self) -> list[dict]:
        import pyvo

        out = []
        for job_id, job in list(self._jobs.items()):
            try:
                job._update()
            except pyvo.dal.DALServiceError:  # deleted elsewhere, or destroyed: forget it
                del self._jobs[job_id]
                continue
            created = getattr(job.job, "creationtime", None)
            out.append(
                {
                    "id": job_id,
                    "phase": job.phase,
                    "query": job.query or "",
                    "created": created.isot if created is not None else "",
                    "rows": None,
                    "error": None,
                }
            )
        return out

    def resume(self, ref: str) -> str:
        """A job of this service by its URL (or ID: under this service's /async)."""
        import pyvo

        url = ref if "://" in ref else f"{self.url}/async/{ref.strip('/')}"
        job = pyvo.dal.AsyncTAPJob(url, session=self.session)
        self._jobs[job.job_id] = job
        return job.job_id

    def _job(self, job_id: str):
        if job_id not in self._jobs:
            raise NotFound(f"no job {job_id} of {self.name} in this session")
        return self._jobs[job_id]

    def job_result(self, job_id: str) -> QueryResult:
        r = self._job(job_id).fetch_result()
        return QueryResult(r.to_table(), r.query_status == "OVERFLOW")

    def abort(self, job_id: str) -> None:
        self._job(job_id).abort()

    def delete(self, job_id: str) -> None:
        self._job(job_id).delete()
        del self._jobs[job_id]


def platform_tap(user: str) -> LocalTap | RemoteTap:
    """This platform's TAP service: in this process, or, in a user's server at a data centre
    (``HECTORNB_SERVICE_URL``), the service's, signed in with the user's own token."""
    from ..config import get_settings

    if get_settings().service_url:
        from ..client import ServiceClient

        client = ServiceClient()
        return RemoteTap(f"{client.url}/hectornb/tap", session=client.session, name="this platform")
    return LocalTap(user)
