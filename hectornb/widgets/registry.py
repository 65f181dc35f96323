"""The platform's apps, each declared once.

An app is a page function in `hectornb.widgets` that builds its widget and displays it. Its
notebook (what Voilà serves and what a user opens in JupyterLab) is made from the
declaration by `notebook`, the landing page lists it, and ``from hectornb.widgets import
<page>`` finds it. Adding an app is one `App` in `APPS` plus its widget module; the
shipped notebooks are checked against the declarations by the test suite, and
`write_notebooks` rewrites them.

This module imports nothing heavy: the server reads it to list the apps without loading any
widget.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class App:
    """One app: ``name`` is its notebook's stem (``<name>.ipynb``, the page's URL);
    ``page`` the function in ``hectornb.widgets.<module>`` that shows it; ``summary`` what
    the landing page says of it; ``heading`` and ``intro`` the notebook's first cell;
    ``scripts`` extra scripts the page's template loads (paths under the server's static
    files)."""

    title: str
    name: str
    module: str
    page: str
    summary: str
    heading: str
    intro: str
    scripts: tuple[str, ...] = ()

    @property
    def notebook_name(self) -> str:
        return f"{self.name}.ipynb"


#: The apps, in the landing page's order.
APPS: tuple[App, ...] = (
    App(
        "Classify",
        "classify",
        ".sky",
        "classify_page",
        "Vet target lists: a BADCLASS 0–8 per target from the keyboard, with finder charts, "
        "catalogue overlays and hexabundle footprints.",
        "Classify — Hector target selector",
        "Vet target lists with a BADCLASS 0–8 per target. Keys 0–8 classify the card under "
        "the mouse, ←/→ change page, Backspace undoes.",
    ),
    App(
        "Reduce",
        "reduce",
        ".reduce",
        "reduce_page",
        "Reduce raw 2dF/AAOmega/Hector frames on the Dask cluster (Pipeline as a Web "
        "Service): find data, choose options, follow your requests, download the products.",
        "Reduce — Pipeline as a Web Service",
        "Find raw frames, reduce them on the Dask cluster, follow the request, download the "
        "products.",
    ),
    App(
        "Explore",
        "explore",
        ".explore_sky",
        "explore_page",
        "Explore reduced 2dF/AAOmega/Hector spectra: the field with every fibre, each "
        "fibre's spectrum with its variance, sky and lines at a redshift; PDF of them all.",
        "Explore — 2dF/Hector spectra",
        "Open a reduced product, click a fibre on the field, read its spectrum. Keys: ← → "
        "(or p, n) step through the fibres.",
        scripts=("hectornb/static/plotly-basic.min.js?v=4.1.1",),
    ),
    App(
        "Obslog",
        "obslog",
        ".obslog",
        "obslog_page",
        "The observing log: targets, stars, Hector tiles and their hexabundles, runs and the "
        "night log; every edit kept as a version; CSV, night reports, a REST API.",
        "Obslog — the observing log",
        "Targets, stars, tiles, runs and the night log. Every edit is kept as a version.",
    ),
    App(
        "TAP",
        "tap",
        ".tap",
        "tap_page",
        "Query the catalogues in ADQL (this platform's TAP service or any other): browse "
        "the tables, run now or as a job, upload a table to cross-match, download results.",
        "TAP — query the catalogues in ADQL",
        "This platform's TAP service or any other: browse the tables, run ADQL now or as a "
        "job, upload a table to cross-match, download the result or send its positions to "
        "Classify.",
    ),
)


def _cell_id(app: App, kind: str) -> str:
    return hashlib.sha1(f"{app.name} {kind}".encode()).hexdigest()[:8]


def notebook(app: App) -> dict:
    """The app's notebook (nbformat 4.5): a heading, and one cell that shows the page."""
    metadata: dict = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "voila": {"template": "hectornb"},
    }
    if app.scripts:
        metadata["hectornb"] = {"scripts": list(app.scripts)}
    code = f"from hectornb.widgets import {app.page}\n\n{app.page}()"
    return {
        "cells": [
            {
                "cell_type": "markdown",
                "id": _cell_id(app, "markdown"),
                "metadata": {},
                "source": _lines(f"# {app.heading}\n\n{app.intro}"),
            },
            {
                "cell_type": "code",
                "execution_count": None,
                "id": _cell_id(app, "code"),
                "metadata": {},
                "outputs": [],
                "source": _lines(code),
            },
        ],
        "metadata": metadata,
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def notebook_text(app: App) -> str:
    """The notebook as its file holds it (Jupyter's own layout: one-space indent)."""
    return json.dumps(notebook(app), indent=1, ensure_ascii=False) + "\n"


def shipped_notebooks() -> Path:
    """The package's folder of app notebooks."""
    return Path(__file__).resolve().parents[1] / "notebooks"


def write_notebooks(folder: Path | None = None) -> list[Path]:
    """Write every app's notebook into ``folder`` (the package's by default)."""
    folder = folder or shipped_notebooks()
    written = []
    for app in APPS:
        path = folder / app.notebook_name
        path.write_text(notebook_text(app), encoding="utf-8")
        written.append(path)
    return written


def page_names() -> dict[str, str]:
    """Each page function and the `hectornb.widgets` module that defines it."""
    return {app.page: app.module for app in APPS}
