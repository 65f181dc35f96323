"""The Obslog app: the observing log's tables, queries and API, as Data Central's obslog shows them.

Home has a card per table ("Check Detail"); each table is a grid with "Add new row", "Save
new row", "Get Selected Rows", "Download CSV export" and, for the night log, "Add new Date";
a cell edited is saved as a new version of its record. A tile opens its page (bundles A–U
with their targets and stars, the logs and runs that observed it; a bundle can be assigned
there), a run its nights, tiles and targets, a target its tiles and logs. The API page sends
a request and shows the query and the JSON. Every action goes through `ObslogStore` as the
signed-in user: reading is open, writing needs the observer role.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import anywidget
import traitlets as t

from ..errors import HectornbError
from ..identity import process_user
from ..obslog import COLLECTIONS, FieldErrors, ObslogStore, obslog_store
from ._esm import esm, service_api

_HERE = Path(__file__).parent
PAGE = 50


def _jsonable(value):
    """``value`` as the page can hold it: JSON types, and 64-bit catalogue ids (beyond
    JavaScript's 2**53) as text, or the browser rounds them to another galaxy's id."""

    def safe(v):
        if isinstance(v, dict):
            return {k: safe(x) for k, x in v.items()}
        if isinstance(v, list):
            return [safe(x) for x in v]
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**53:
            return str(v)
        return v

    return safe(json.loads(json.dumps(value, default=str)))


class ObslogApp(anywidget.AnyWidget):
    """The Obslog app for the signed-in user."""

    _esm = esm("obslog")
    _css = _HERE / "obslog.css"

    user = t.Unicode("").tag(sync=True)
    observer = t.Bool(False).tag(sync=True)
    schema = t.List().tag(sync=True)
    counts = t.Dict().tag(sync=True)
    #: what the page shows: {"page": home|table|related|api, "collection", "id"}
    view = t.Dict({"page": "home"}).tag(sync=True)
    rows = t.List().tag(sync=True)
    total = t.Int(0).tag(sync=True)
    related = t.Dict().tag(sync=True)
    message = t.Dict().tag(sync=True)
    ready = t.Bool(False).tag(sync=True)
    #: where the page's links find the REST API ("" for this server's; see `service_api`)
    service_api = t.Unicode(service_api()).tag(sync=True)

    def __init__(self, store: ObslogStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.store = store or obslog_store()
        self._user = process_user()
        self._query: dict = {}
        self.user = self._user
        self.schema = [
            {
                "name": c.name,
                "key": c.key,
                "description": c.description,
                "generated_key": c.generated_key,
                "fields": [
                    {
                        "name": f.name,
                        "kind": f.kind,
                        "unit": f.unit,
                        "description": f.description,
                        "choices": list(f.choices),
                        "suggestions": list(f.suggestions),
                        "required": f.required,
                    }
                    for f in c.fields
                ],
            }
            for c in COLLECTIONS.values()
        ]
        self.on_msg(self._on_message)

    # ---- actions (also callable from Python) ----------------------------------------------

    def home(self) -> None:
        self.observer = self.store.is_observer(self._user)
        counts = {name: self.store.list(name, {"limit": ["0"]})["total"] for name in COLLECTIONS}
        self.counts = {**counts, "finalproduct": self._reductions()}
        self.view = {"page": "home"}

    def _reductions(self, days: float = 30) -> int | None:
        """The user's reduction requests of the last ``days`` that made products (None when
        the reduction service cannot be asked)."""
        from ..reduce.session import reduce_session

        try:
            jobs = reduce_session(self._user).jobs(days=days)
        except (OSError, HectornbError):  # no service to ask, or it refused
            return None
        return sum(j.status in ("done", "partial") for j in jobs)

    def table(self, name: str, q: str = "", offset: int = 0, deleted: bool = False) -> None:
        """A page of ``name``: the newest first, ``q`` searched; ``deleted`` shows the
        deleted records instead (to restore them)."""
        query = {
            "offset": [str(max(offset, 0))],
            "limit": [str(PAGE)],
            "deleted": ["true" if deleted else "false"],
        }
        if q:
            query["q"] = [q]
        # the newest first: a row just added shows at the top of the grid
        query["order_by"] = ["-night", "-time", "-created"] if name == "logs" else ["-created"]
        page = self.store.list(name, query)
        self._query = {"q": q, "offset": max(offset, 0), "deleted": deleted}
        with self.hold_sync():
            self.rows = _jsonable(page["items"])
            self.total = page["total"]
            self.view = {
                "page": "table",
                "collection": name,
                "q": q,
                "offset": max(offset, 0),
                "deleted": deleted,
                "page_size": PAGE,
            }

    def history(self, name: str, record_id: str) -> list[dict]:
        """Every version of a record (who, when, what changed), shown under the grid."""
        versions = _jsonable(self.store.history(name, record_id))
        self.related = {"history": versions, "collection": name, "id": record_id}
        return versions

    def open_related(self, name: str, record_id: str) -> None:
        self.related = _jsonable(self.store.related(name, record_id))
        self.view = {"page": "related", "collection": name, "id": record_id}

    def save(
        self, name: str, record: dict, record_id: str | None = None, version: int | None = None
    ) -> dict:
        """Create (no ``record_id``) or edit a record; the grid is refreshed."""
        if record_id is None:
            saved = self.store.create(name, record, self._user)
            self._say(f"saved {name[:-1]} {saved[COLLECTIONS[name].key]}", "ok")
        else:
            saved = self.store.update(name, record_id, record, self._user, version)
            self._say(f"{name[:-1]} {record_id}: version {saved['version']} saved", "ok")
        return saved

    def assign_bundle(
        self, tile_id: str, bundle: str, kind: str, member: str, version: int | None = None
    ) -> dict:
        """Put a target or star in one of a tile's hexabundles (a new version of the tile)."""
        tile = self.store.get("tiles", tile_id)
        bundles = {**tile["bundles"], bundle: {"kind": kind, "id": str(member)}}
        saved = self.store.update(
            "tiles",
            tile_id,
            {"bundles": bundles},
            self._user,
            version if version is not None else tile["version"],
        )
        self._say(f"tile {tile_id}: bundle {bundle} → {kind} {member}", "ok")
        return saved

    def _refresh(self, name: str) -> None:
        self.table(
            name,
            self._query.get("q", ""),
            self._query.get("offset", 0),
            self._query.get("deleted", False),
        )

    # ---- messages from the page ----------------------------------------------------------

    def _say(self, text: str, kind: str = "info", **extra) -> None:
        self.message = {"text": text, "kind": kind, "at": dt.datetime.now().isoformat(), **extra}

    def _on_message(self, _widget, content: dict, _buffers) -> None:
        kind = str(content.get("type", ""))
        try:
            if kind == "home":
                self.home()
                self.ready = True
            elif kind == "table":
                self.table(
                    str(content["collection"]),
                    str(content.get("q") or ""),
                    int(content.get("offset") or 0),
                    bool(content.get("deleted")),
                )
            elif kind == "history":
                self.history(str(content["collection"]), str(content["id"]))
            elif kind == "related":
                self.open_related(str(content["collection"]), str(content["id"]))
            elif kind == "save":
                name = str(content["collection"])
                self.save(
                    name,
                    dict(content.get("record") or {}),
                    content.get("id"),
                    content.get("version"),
                )
                self._refresh(name)
            elif kind in ("delete", "restore"):
                name = str(content["collection"])
                getattr(self.store, kind)(name, str(content["id"]), self._user)
                self._say(f"{name[:-1]} {content['id']} {kind}d", "ok")
                self._refresh(name)
            elif kind == "assign":
                self.assign_bundle(
                    str(content["tile"]),
                    str(content["bundle"]),
                    str(content["kind"]),
                    str(content["member"]),
                )
                self.open_related("tiles", str(content["tile"]))
        except FieldErrors as exc:
            self._say(str(exc), "error", errors=exc.errors, row=content.get("row"))
        except HectornbError as exc:
            self._say(str(exc), "error")


def obslog_page(**kwargs) -> ObslogApp:
    """The Obslog app as the Voilà page shows it."""
    return ObslogApp(**kwargs)
