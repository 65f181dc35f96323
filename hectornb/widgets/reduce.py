"""The Reduce app: find raw frames, reduce them with PAWS, follow and collect the requests.

One anywidget with PAWS's screens: an archive query grid (filters, column chooser,
density, CSV export, fibre-table and targets VIEWs, "Download Files", "Reduce With PAWS"),
the options form ("Make it so!"), the user's requests of the last 7 days and a status page
per request (live progress, per-step log, the plan with the calibrations chosen, the Dask
dashboard, downloads). Every action goes through the Reduce service as the signed-in user.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t

from ..errors import Forbidden, HectornbError, NotFound
from ..identity import process_user
from ..reduce.options import FORM_NAMES, OPTIONS
from ..reduce.service import DOWNLOADS
from ..reduce.session import LocalReduce, RemoteReduce, reduce_session
from ._esm import esm, service_api
from ._times import request_time

_HERE = Path(__file__).parent
#: The PAWS form's fields, in its order: (form name, 2dFdr name).
FORM = tuple((form, name) for form, name in FORM_NAMES.items())
#: Columns of the archive grid: (key, heading, shown by default).
COLUMNS = (
    ("file", "File", True),
    ("night", "Night", True),
    ("arm", "Arm", True),
    ("ndfclass", "Class", True),
    ("object", "Object", True),
    ("exposed", "Exp (s)", True),
    ("grating", "Grating", True),
    ("field_id", "Field", False),
    ("plate", "Plate", False),
    ("aaoprgid", "Programme", True),
    ("lamp", "Lamp", False),
    ("run", "Run", False),
    ("meanra", "RA (deg)", False),
    ("meandec", "Dec (deg)", False),
    ("setup", "Set-up", False),
    ("epoch", "Epoch", False),
)


class ReduceApp(anywidget.AnyWidget):
    """The Reduce app (Pipeline as a Web Service) for the signed-in user.

    Parameters
    ----------
    job : str, optional
        A request ID to open at its status page.
    night_from, night_to : str, optional
        The first archive query (``yymmdd``).
    """

    _esm = esm("reduce")
    _css = _HERE / "reduce.css"

    user = t.Unicode("").tag(sync=True)
    frames = t.List().tag(sync=True)
    columns = t.List([{"key": k, "label": h, "shown": s} for k, h, s in COLUMNS]).tag(sync=True)
    option_specs = t.List().tag(sync=True)
    #: the engines the platform can run now, the default first (``NAME[@VERSION]``)
    engines = t.List(["builtin"]).tag(sync=True)
    #: why each engine the platform has none of cannot run here, by name (shown greyed out)
    engines_unavailable = t.Dict().tag(sync=True)
    jobs = t.List().tag(sync=True)
    job = t.Dict().tag(sync=True)
    message = t.Dict().tag(sync=True)
    downloads = t.Dict(DOWNLOADS).tag(sync=True)
    ready = t.Bool(False).tag(sync=True)
    #: where the page's links find the REST API ("" for this server's; see `service_api`)
    service_api = t.Unicode(service_api()).tag(sync=True)

    def __init__(
        self,
        job: str = "",
        night_from: str = "",
        night_to: str = "",
        session: LocalReduce | RemoteReduce | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._user = process_user()
        self.session = session or reduce_session(self._user)
        self._watch: threading.Thread | None = None
        self._lock = threading.Lock()
        with self.hold_sync():
            self.user = self._user
            self.option_specs = [
                {
                    "form": form,
                    "name": name,
                    "default": OPTIONS[name].default,
                    "help": OPTIONS[name].help,
                    "choices": list(OPTIONS[name].choices),
                }
                for form, name in FORM
            ]
            self._refresh_jobs()
            if night_from or night_to:
                self.query({"night_from": night_from, "night_to": night_to or night_from})
        if job:
            self.open_request(job)
        self.on_msg(self._on_message)

    # ---- actions (also callable from Python) --------------------------------------------

    def query(self, filters: dict) -> list[dict]:
        """Archive frames the user may see matching ``filters`` (night_from, night_to,
        ndfclass, object, grating, arm, programme)."""
        rows = self.session.frames({k: str(v or "") for k, v in filters.items()})
        self.frames = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in rows
        ]
        return self.frames

    def reduce(
        self,
        frames: list[str],
        options: dict | None = None,
        email: str = "",
        engine: str = "builtin",
    ) -> dict:
        """Submit a request ("Make it so!"); returns the request, opened at its status."""
        # the server's runner takes it (woken by the database); this kernel runs nothing
        job = self.session.submit(frames, options or {}, email or None, engine)
        self._say(f"Request {job.id} submitted: {len(job.frames)} object frames", "ok")
        self._refresh_jobs()
        return self.open_request(job.id)

    def open_request(self, job_id: str) -> dict:
        """Show one request's status page, live until it ends."""
        self.job = self._detail(job_id)
        with self._lock:
            if self._watch is None or not self._watch.is_alive():
                self._watch = threading.Thread(
                    target=self._follow, daemon=True, name="hectornb-reduce-follow"
                )
                self._watch.start()
        return self.job

    def cancel(self, job_id: str) -> None:
        self.session.cancel(job_id)
        self.job = self._detail(job_id)
        self._refresh_jobs()

    # ---- state ---------------------------------------------------------------------------

    def _detail(self, job_id: str) -> dict:
        job = self.session.job(job_id)
        out = job.to_json(with_plan=True)
        out["created"] = request_time(job.created)
        out["started"] = request_time(job.started)
        out["finished"] = request_time(job.finished)
        out["final"] = job.final
        out["steps"] = [
            {**s, "finished": request_time(s["finished"])} for s in self.session.steps(job_id)
        ]
        out["events"] = [{**e, "at": request_time(e["at"])} for e in self.session.events(job_id)]
        out["options_changed"] = {
            k: v for k, v in job.options.items() if k in OPTIONS and OPTIONS[k].default != v
        }
        return out

    def _refresh_engines(self) -> None:
        """The engines the platform can run now, asked when the options form opens (not
        when the page loads: that waits for nobody's Docker engine)."""
        try:
            self.engines, self.engines_unavailable = self.session.engine_choices()
        except HectornbError:  # a service that predates the list still runs the default
            self.engines = ["builtin"]

    def _refresh_jobs(self) -> None:
        self.jobs = [
            {
                "id": j.id,
                "status": j.status,
                "n_frames": len(j.frames),
                "created": request_time(j.created),
                "steps_done": j.steps_done,
                "steps_total": j.steps_total,
            }
            for j in self.session.jobs()
        ]

    def _follow(self) -> None:
        """Refresh the open request until it ends: five times a second while it starts
        (the first steps are what a person waits to see), then every second."""
        while True:
            current = self.job.get("id")
            if not current:
                return
            try:
                detail = self._detail(current)
            except (NotFound, Forbidden):
                return
            if detail != self.job and self.job.get("id") == current:
                self.job = detail
                self._refresh_jobs()
            if detail["final"]:
                return
            young = detail["steps_done"] < 2
            threading.Event().wait(0.2 if young else 1.0)

    def _say(self, text: str, kind: str = "info") -> None:
        self.message = {"text": text, "kind": kind, "at": dt.datetime.now().isoformat()}

    # ---- messages from the page ----------------------------------------------------------

    def _on_message(self, _widget, content: dict, _buffers) -> None:
        kind = str(content.get("type", ""))
        try:
            if kind == "init":
                params = content.get("params") or {}
                self._refresh_jobs()
                if params.get("job"):
                    self.open_request(params["job"])
                elif params.get("night"):
                    self.query({"night_from": params["night"], "night_to": params["night"]})
                self.ready = True
            elif kind == "query":
                rows = self.query(content.get("filters") or {})
                self._say(f"{len(rows)} frames", "info")
            elif kind == "submit":
                self.reduce(
                    list(content.get("frames") or []),
                    content.get("options") or {},
                    str(content.get("email") or ""),
                    str(content.get("engine") or "builtin"),
                )
            elif kind == "open":
                self.open_request(str(content["id"]))
            elif kind == "cancel":
                self.cancel(str(content["id"]))
            elif kind == "jobs":
                self._refresh_jobs()
            elif kind == "engines":
                self._refresh_engines()
            elif kind in ("fibres", "targets"):
                path = str(content["path"])
                if not any(f["path"] == path for f in self.frames):
                    raise Forbidden("that frame is not in your query")
                self.send(
                    {
                        "type": "fibres",
                        "path": path,
                        "kind": kind,
                        "rows": self.session.fibres(path, targets_only=kind == "targets"),
                    }
                )
        except HectornbError as exc:
            self._say(str(exc), "error")


def reduce_page(**kwargs) -> ReduceApp:
    """The Reduce app as the Voilà page shows it."""
    return ReduceApp(**kwargs)
