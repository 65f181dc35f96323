"""One shared Aladin Lite view that follows the active card of the Classify app.

Browsers keep ~16 live WebGL contexts per page, so cards never get an Aladin each; this one
view retargets instead. Aladin Lite comes from the platform's own server (see
`hectornb.widgets.aladin`), and offline its base layer is the blank survey the platform serves,
under the hexabundle footprints.
"""

from __future__ import annotations

import functools
import socket

import ipywidgets as w
from astropy import units as u
from astropy.coordinates import SkyCoord

from ..config import get_settings, server_base_url
from .classify import ClassifyApp

#: The hexabundle footprints' colours in the sky view, as the finder charts draw them.
FOOTPRINT_COLOURS = {"small": "#5ef07a", "large": "#ff9f43"}
_ONLINE_SURVEY = "P/DSS2/color"
_HIPS_HOST = ("alasky.cds.unistra.fr", 443)


@functools.cache
def _hips_reachable(timeout: float = 1.5) -> bool:
    # Asked once per kernel: without DNS this fails at once, behind a dead route in `timeout`.
    try:
        socket.create_connection(_HIPS_HOST, timeout=timeout).close()
    except OSError:
        return False
    return True


def base_survey(setting: str | None = None) -> str:
    """The HiPS for Aladin Lite's base layer (``HECTORNB_SKY_SURVEY``).

    Offline, Aladin Lite without any base layer throws on every pan and zoom, so it gets the
    blank survey this platform serves under ``hectornb/hips/offline``.
    """
    setting = setting or get_settings().sky_survey
    if setting == "auto":
        setting = _ONLINE_SURVEY if _hips_reachable() else "offline"
    if setting != "offline":
        return setting
    return server_base_url().rstrip("/") + "/hectornb/hips/offline"


class SharedSkyView:
    """An ``ipyaladin.Aladin`` centred on ``app.active`` with the hexabundle footprints."""

    def __init__(self, app: ClassifyApp, height: int = 420):
        from .aladin import aladin_widget

        self.app = app
        self.overlays: list[str] = []
        first = app.cards[0] if app.cards else {"ra": 0.0, "dec": 0.0}
        self.aladin = aladin_widget(
            target=SkyCoord(first["ra"], first["dec"], unit="deg"),
            fov=app.fov_arcsec * 2 / 3600.0,
            height=height,
            survey=base_survey(),
            show_coo_grid=False,
        )
        app.observe(self._follow, names="active")
        # Aladin Lite fails ('longitudeReversed') when retargeted while it initialises: hold
        # changes until the front end says it has loaded.
        self.aladin.observe(self._on_loaded, names="_is_loaded")

    def _on_loaded(self, change) -> None:
        if change["new"]:
            self._follow({"new": self.app.active})

    def _follow(self, change) -> None:
        card = next((c for c in self.app.cards if c["name"] == change["new"]), None)
        if card is None or not self.aladin._is_loaded:
            return
        centre = SkyCoord(card["ra"], card["dec"], unit="deg")
        self.aladin.target = centre
        if self.overlays:
            self.aladin.remove_overlay(self.overlays)
        self.overlays = []
        for name, diameter in self.app.bundles.items():
            circle = (
                f"CIRCLE ICRS {card['ra']:.7f} {card['dec']:.7f} "
                f"{(diameter / 2 * u.arcsec).to_value(u.deg):.7f}"
            )
            self.aladin.add_graphic_overlay_from_stcs(
                [circle], color=FOOTPRINT_COLOURS.get(name, "#5ef07a"), name=f"{name} hexabundle"
            )
            self.overlays.append(f"{name} hexabundle")


def classify_page(list_name: str = "", sky_view: bool = True, **kwargs) -> w.Widget:
    """The Classify app as a page: the card grid, and the shared sky view beside it."""
    app = ClassifyApp(list_name, **kwargs)
    if not sky_view:
        return app
    sky = SharedSkyView(app)
    side = w.VBox(
        [
            w.HTML(
                '<div class="hnb-sky-note"><b>Sky view</b> (Aladin Lite) follows the active '
                "card</div>"
            ),
            sky.aladin,
        ],
        layout=w.Layout(width="380px", flex="0 0 380px"),
    )
    page = w.HBox([app, side], layout=w.Layout(width="100%", align_items="flex-start"))
    app.layout = w.Layout(flex="1 1 auto", min_width="0")
    page.app, page.sky = app, sky
    return page
