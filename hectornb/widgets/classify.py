"""The Classify app: the Hector target selector as one light anywidget.

The whole card grid is one widget (measured: 100 cards of 5 ipywidgets each add ~2 s to a
Voilà page). Every action in the browser is a message; Python does it through the target
store and answers with new state, so what a card shows is what the database holds. One
shared Aladin Lite view (`hectornb.widgets.sky`) follows the active card.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import math
from pathlib import Path

import anywidget
import traitlets as t

from ..catalogues import SkyCatalogue, catalogue, catalogue_label
from ..config import get_settings
from ..errors import HectornbError, Invalid
from ..identity import process_user
from ..targets import (
    BADCLASSES,
    TargetFilter,
    TargetListError,
    export_csv,
    parse_target_bytes,
    target_store,
)
from ..targets.coords import format_dec, format_ra
from ..targets.suggest import suggest_bright_star
from ._esm import esm

PER_PAGE = (1, 2, 3, 4, 5, 10, 15, 20, 30, 50, 100, 200)
#: Hector hexabundle diameters (arcsec): 61 cores (bundles E–G, J–T) and 169 cores (A, B).
BUNDLE_DIAMETERS = {"small": 15.09, "large": 25.14}
_HERE = Path(__file__).parent


class ClassifyApp(anywidget.AnyWidget):
    """Vet a target list: BADCLASS 0–8 per target, from the keyboard.

    Parameters
    ----------
    list_name : str, optional
        The list to open (default: the newest).
    catalogues : sequence of str or SkyCatalogue, optional
        Catalogues drawn on the finder charts and used for suggestions: names of the
        shipped ones (``gaia``, ``openngc``, ``hipparcos``), file paths, or `SkyCatalogue`
        objects (default: ``HECTORNB_CATALOGUES``, else ``gaia`` and ``openngc``).
    mag_limit : float, optional
        Drop sources fainter than this (mag); default ``HECTORNB_CATALOGUE_MAG_LIMIT``.
    cutouts : path, optional
        Folder of ``<target>.png``/``.jpg`` sky images (default ``HECTORNB_CUTOUTS``).
    fov_arcsec : float
        Field of view of the finder charts, arcsec.
    """

    _esm = esm("classify")
    _css = _HERE / "classify.css"

    user = t.Unicode("").tag(sync=True)
    lists = t.List().tag(sync=True)
    list_name = t.Unicode("").tag(sync=True)
    per_page = t.Int(20).tag(sync=True)
    per_page_choices = t.List(list(PER_PAGE)).tag(sync=True)
    offset = t.Int(0).tag(sync=True)
    class_filter = t.Unicode("all").tag(sync=True)
    name_filter = t.Unicode("").tag(sync=True)
    regex = t.Bool(False).tag(sync=True)
    cards = t.List().tag(sync=True)
    total = t.Int(0).tag(sync=True)
    label = t.Unicode("").tag(sync=True)
    progress = t.Dict().tag(sync=True)
    message = t.Dict().tag(sync=True)
    badclasses = t.List().tag(sync=True)
    active = t.Unicode("").tag(sync=True)
    sources = t.Dict().tag(sync=True)
    catalogue_names = t.List().tag(sync=True)
    bundles = t.Dict(BUNDLE_DIAMETERS).tag(sync=True)
    fov_arcsec = t.Float(60.0).tag(sync=True)
    ready = t.Bool(False).tag(sync=True)
    #: whether the finder charts have sky images to show (``HECTORNB_CUTOUTS``)
    has_cutouts = t.Bool(False).tag(sync=True)

    def __init__(
        self,
        list_name: str = "",
        catalogues=None,
        fov_arcsec: float = 60.0,
        mag_limit: float | None = None,
        cutouts=None,
        store=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        settings = get_settings()
        catalogues = settings.catalogues if catalogues is None else catalogues
        self.mag_limit = settings.catalogue_mag_limit if mag_limit is None else mag_limit
        cutouts = settings.cutouts if cutouts is None else cutouts
        self.cutouts = Path(cutouts) if cutouts else None
        self.has_cutouts = bool(self.cutouts and self.cutouts.is_dir())
        self.store = store or target_store()
        self._user = process_user()
        self._catalogues: list[SkyCatalogue] = []
        self._catalogue_specs = list(catalogues)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, "hectornb-catalogue")
        self._page_serial = 0
        with self.hold_sync():
            self.user = self._user
            self.fov_arcsec = fov_arcsec
            self.badclasses = [
                {"value": b.value, "label": b.label, "meaning": b.meaning, "icon": b.icon}
                for b in BADCLASSES
            ]
            self.catalogue_names = [catalogue_label(c) for c in self._catalogue_specs]
            self._refresh_lists()
            if list_name or self.lists:
                self.list_name = list_name or self.lists[0]["name"]
                self._query()
        self.on_msg(self._on_message)

    # ---- state ---------------------------------------------------------------------------

    def _refresh_lists(self) -> None:
        self.lists = [
            {
                "name": i.name,
                "n_targets": i.n_targets,
                "n_classified": i.n_classified,
                "owner": i.owner,
            }
            for i in self.store.lists()
        ]

    def _filter(self) -> TargetFilter:
        return TargetFilter.parse(self.class_filter, self.name_filter, self.regex)

    def _card(self, row: dict) -> dict:
        return {
            "name": row["name"],
            "ra": row["ra"],
            "dec": row["dec"],
            "ra_s": format_ra(row["ra"]),
            "dec_s": format_dec(row["dec"]),
            "badclass": row["badclass"],
            "classified_by": row["classified_by"],
            "n_classifiers": row["n_classifiers"],
            "disagree": row["disagree"],
        }

    def _query(self) -> None:
        """Fetch the page the current list, filters and offset describe."""
        if not self.list_name:
            self.cards, self.total, self.label = [], 0, ""
            return
        page = self.store.page(self.list_name, self._filter(), self.offset, self.per_page)
        done, total = self.store.progress(self.list_name, self._user)
        with self.hold_sync():
            self.offset = page.offset
            self.total = page.total
            self.label = page.label
            self.cards = [self._card(r) for r in page.targets]
            self.progress = {"done": done, "total": total}
            self.ready = True
        if self.cards and self.active not in {c["name"] for c in self.cards}:
            self.active = self.cards[0]["name"]
        self._load_sources_later()

    def _say(self, text: str, kind: str = "info", lines: list[str] | None = None) -> None:
        self.message = {"kind": kind, "text": text, "lines": lines or []}

    # ---- catalogues (asynchronous: cards show first) ----------------------------------

    def _resolve_catalogues(self) -> list[SkyCatalogue]:
        if not self._catalogues:
            self._catalogues = [catalogue(c) for c in self._catalogue_specs]
        return self._catalogues

    def sources_for(self, cards: list[dict]) -> dict:
        """Catalogue sources (arcsec offsets), suggestions and cutouts for each card."""
        radius = max(get_settings().catalogue_radius_arcsec, self.fov_arcsec * math.sqrt(2) / 2)
        out = {}
        for card in cards:
            found = []
            for cat in self._resolve_catalogues():
                found += cat.sources_near(card["ra"], card["dec"], radius)
            if self.mag_limit is not None:
                found = [s for s in found if s["mag"] is None or s["mag"] <= self.mag_limit]
            out[card["name"]] = {
                "sources": found,
                "suggestion": suggest_bright_star(found),
                "cutout": self._cutout(card["name"]),
            }
        return out

    def _cutout(self, name: str) -> str | None:
        """The target's sky image as a data URL, when the cutout folder has one."""
        if self.cutouts is None:
            return None
        safe = "".join(ch if ch.isalnum() or ch in "+-._ " else "_" for ch in name)
        for suffix, mime in ((".png", "image/png"), (".jpg", "image/jpeg")):
            path = self.cutouts / f"{safe}{suffix}"
            if path.is_file():
                return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()
        return None

    def _load_sources_later(self) -> None:
        self._page_serial += 1
        serial, cards = self._page_serial, list(self.cards)
        future = self._executor.submit(self.sources_for, cards)

        def done(fut):
            if serial == self._page_serial and fut.exception() is None:
                self.sources = fut.result()

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            done(future)  # outside a kernel (tests, scripts): wait for it
        else:
            asyncio.wrap_future(future, loop=loop).add_done_callback(lambda f: done(future))

    # ---- actions ------------------------------------------------------------------------

    def _on_message(self, _widget, content: dict, buffers: list) -> None:
        handler = getattr(self, "_do_" + str(content.get("type", "")), None)
        if handler is None:
            return
        try:
            handler(content, buffers)
        except HectornbError as exc:
            self._say(str(exc), "error")

    def _do_init(self, content: dict, _buffers) -> None:
        """The page's URL parameters: ``?list=…&target=…`` opens the app at a target."""
        params = content.get("params") or {}
        # A preheated kernel built this app before the page was asked for: the lists may
        # have changed since (an import from the command line, another user).
        self._refresh_lists()
        with self.hold_sync():
            if params.get("per_page"):
                self.per_page = self._per_page(params["per_page"])
            names = [x["name"] for x in self.lists]
            if params.get("list") in names:
                self.list_name, self.offset = params["list"], 0
            elif params.get("list"):
                self._say(f"no target list named {params['list']!r}", "error")
            elif self.list_name not in names:
                self.list_name, self.offset = (names[0] if names else ""), 0
        target = params.get("target") or (
            self.store.last_classified(self.list_name, self._user) if self.list_name else None
        )
        if target:
            self.jump(target)
            if not params.get("target"):
                self._say(f"resumed at {target}, your last classification in {self.list_name}")
        else:
            self._query()

    def _per_page(self, value) -> int:
        value = int(value)
        if value not in PER_PAGE:
            raise Invalid(f"targets per page must be one of {', '.join(map(str, PER_PAGE))}")
        return value

    def _do_query(self, content: dict, _buffers) -> None:
        flt = TargetFilter.parse(
            content.get("badclass", self.class_filter),
            content.get("name", self.name_filter),
            content.get("regex", self.regex),
        )
        with self.hold_sync():
            if "list" in content:
                self.list_name = content["list"]
            self.per_page = self._per_page(content.get("per_page", self.per_page))
            self.class_filter = str(flt.badclass)
            self.name_filter = flt.name
            self.regex = flt.regex
            self.offset = max(0, int(content.get("offset", self.offset)))
            self.message = {}
        self._query()

    def _do_page(self, content: dict, _buffers) -> None:
        step = int(content.get("step", 0))
        new = self.offset + step * self.per_page
        if 0 <= new < max(self.total, 1):
            self.offset = new
            self._query()

    def _do_classify(self, content: dict, _buffers) -> None:
        value = content.get("value")
        self.classify(content["target"], None if value is None else int(value))

    def _do_undo(self, _content, _buffers) -> None:
        row = self.store.undo(self.list_name, self._user)
        if row is None:
            self._say("nothing to undo")
            return
        self._say(f"undid your last classification of {row['name']}")
        self._update_card(row)

    def _do_jump(self, content: dict, _buffers) -> None:
        self.jump(content.get("target", ""))

    def _do_upload(self, content: dict, buffers: list) -> None:
        data = bytes(buffers[0]) if buffers else base64.b64decode(content.get("data", ""))
        filename = content.get("filename", "")
        try:
            targets = parse_target_bytes(data, filename, get_settings().max_upload_bytes)
        except TargetListError as exc:
            self._say(f"{filename} was rejected; nothing was stored.", "error", exc.lines())
            return
        name = content.get("name") or targets.stem
        result = self.store.import_list(
            targets, name, self._user, overwrite=bool(content.get("overwrite"))
        )
        self._refresh_lists()
        with self.hold_sync():
            self.list_name, self.offset = name, 0
            self._say(result.summary())
        self._query()

    def _do_delete(self, content: dict, _buffers) -> None:
        name = content.get("list", "")
        self.store.delete_list(name, self._user)
        self._refresh_lists()
        with self.hold_sync():
            self.list_name = self.lists[0]["name"] if self.lists else ""
            self.offset = 0
            self._say(f"deleted {name}")
        self._query()

    def _do_download(self, content: dict, _buffers) -> None:
        text = export_csv(self.store, self.list_name, per_user=bool(content.get("per_user")))
        self.send({"type": "download", "filename": f"{self.list_name}.csv", "text": text})

    # ---- Python API (the same actions, for notebooks and tests) --------------------------

    def classify(self, target: str, value: int | None) -> dict:
        """Store the user's BADCLASS of ``target`` and show it on its card."""
        row = self.store.classify(self.list_name, target, value, self._user)
        self._update_card(row)
        return row

    def jump(self, target: str) -> None:
        """Show the page holding ``target`` and make it the active card."""
        index = self.store.locate(self.list_name, target, self._filter())
        self.offset = index // self.per_page * self.per_page
        self._query()
        self.active = target.strip()

    def _update_card(self, row: dict) -> None:
        """Show one target's new state: a small message, not a re-sync of the whole page.

        ``cards`` is changed in place, which traitlets does not sync; the front end applies
        the same change to its copy when the message arrives (measured: re-syncing 200
        cards and redrawing every finder chart took ~0.5 s per key press).
        """
        card = self._card(row)
        for i, c in enumerate(self.cards):
            if c["name"] == card["name"]:
                self.cards[i] = card
        done, total = self.store.progress(self.list_name, self._user)
        self.send({"type": "card", "card": card})
        self.progress = {"done": done, "total": total}
