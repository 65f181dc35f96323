"""The Explore app's sky view: the product's fibres in Aladin Lite, beside the field plot.

Every fibre is a source of a catalogue layer per fibre type (coloured as in the field plot),
named when "Show Labels" is on; clicking one opens its spectrum, and the fibre shown is
ringed. Aladin Lite comes from the platform's own server (`hectornb.widgets.aladin`); should
it fail to start (no WebGL, say), the field plot of the explorer does the same job.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

from ..spectra.pdf import TYPE_COLOURS, TYPES
from .explore import SpectrumExplorer
from .sky import base_survey

_SELECTED = "selected fibre"
FIELD_FOV = 2.3  # degrees: the 2-degree plate and a margin


class FibreSkyView:
    """An ``ipyaladin.Aladin`` showing ``explorer``'s fibres, following its product, fibre
    and "Show Labels"."""

    def __init__(self, explorer: SpectrumExplorer, height: int = 460):
        from .aladin import aladin_widget

        self.explorer = explorer
        self.layers: list[str] = []
        self.aladin = aladin_widget(
            fov=FIELD_FOV,
            height=height,
            survey=base_survey(),
            show_coo_grid=False,
            show_context_menu=False,
        )
        self.aladin.set_listener("object_clicked", self._clicked)
        explorer.observe(self._draw, names=["fibres", "show_labels"])
        explorer.observe(self._ring, names="fibre")
        self.aladin.observe(self._on_loaded, names="_is_loaded")

    def _on_loaded(self, change) -> None:
        if change["new"]:
            self._draw()

    def _draw(self, _change=None) -> None:
        # Aladin Lite fails when moved while it initialises: wait for the front end
        if not self.aladin._is_loaded:
            return
        fibres = self.explorer.fibres
        if self.layers:
            self.aladin.remove_overlay(self.layers)
            self.layers = []
        if not fibres.get("name"):
            return
        centre = self.explorer.summary.get("centre")
        if centre:
            self.aladin.target = SkyCoord(centre, unit=(u.hourangle, u.deg))
        self.aladin.fov = FIELD_FOV
        ra = np.array([np.nan if v is None else v for v in fibres["ra"]], float)
        dec = np.array([np.nan if v is None else v for v in fibres["dec"]], float)
        kinds = np.array(fibres["type"])
        placed = np.isfinite(ra) & np.isfinite(dec) & ~((ra == 0) & (dec == 0))
        labels = [b or n for b, n in zip(fibres["bundle"], fibres["name"], strict=True)]
        for kind in dict.fromkeys(kinds[placed]):
            rows = np.flatnonzero(placed & (kinds == kind))
            table = Table(
                {
                    "ra": ra[rows] * u.deg,
                    "dec": dec[rows] * u.deg,
                    "fibre": rows + 1,
                    "name": [str(fibres["name"][i]) for i in rows],
                    "label": [labels[i] for i in rows],
                }
            )
            name = TYPES.get(str(kind), str(kind))
            self.aladin.add_table(
                table,
                shape="circle",
                color=TYPE_COLOURS.get(str(kind), "#555555"),
                name=name,
                source_size=9,
                display_label=bool(self.explorer.show_labels),
                label_column="label",
                label_color="#cfd8e3",
            )
            self.layers.append(name)
        self._ring()

    def _ring(self, _change=None) -> None:
        if not self.aladin._is_loaded:
            return
        fibres, i = self.explorer.fibres, self.explorer.fibre
        if _SELECTED in self.layers:
            self.aladin.remove_overlay(_SELECTED)
            self.layers.remove(_SELECTED)
        if not fibres.get("ra") or i >= len(fibres["ra"]) or fibres["ra"][i] is None:
            return
        radius = (1.5 * u.arcmin).to_value(u.deg)
        self.aladin.add_graphic_overlay_from_stcs(
            [f"CIRCLE ICRS {fibres['ra'][i]:.7f} {fibres['dec'][i]:.7f} {radius:.5f}"],
            color="#ffffff",
            name=_SELECTED,
        )
        self.layers.append(_SELECTED)

    def _clicked(self, source: dict) -> None:
        data = source.get("data") or {}
        if "fibre" in data:
            self.explorer.show(int(data["fibre"]) - 1)


def explore_page(sky_view: bool = True, **kwargs) -> w.Widget:
    """The Explore app as the Voilà page shows it: the explorer, and the fibres in Aladin
    Lite under it when Aladin Lite can load."""
    explorer = SpectrumExplorer(**kwargs)
    explorer.open_when_page_requested()
    if not sky_view:
        return explorer
    note = w.HTML(
        '<div class="hnb-sky-note"><b>Sky view</b> (Aladin Lite): click a fibre to '
        "see its spectrum</div>"
    )
    page = w.VBox([explorer, note], layout=w.Layout(width="100%"))
    page.explorer, page.sky = explorer, None

    def start_sky(change) -> None:
        # anywidget gives a model 2 s to initialise; Aladin Lite's WebAssembly compiling
        # while plotly.js is parsed can take longer, so it starts once plotly.js is in
        if change["new"] and page.sky is None:
            page.sky = FibreSkyView(explorer)
            # about square, so the whole 2-degree plate is in view
            box = w.VBox([page.sky.aladin], layout=w.Layout(width="520px"))
            page.children = [explorer, note, box]

    explorer.observe(start_sky, names="page_ready")
    return page
