"""Chromium for the browser tests and benchmarks: Debian's build driven by Playwright, offline.

ipyaladin imports Aladin Lite from esm.sh at run time. Offline, `route_aladin` answers those
requests with the npm ``aladin-lite`` package installed in ``tests/browser/node_modules``
(at the exact version ipyaladin imports), as a site with internet would get it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent
ALADIN_DIST = HERE / "node_modules" / "aladin-lite" / "dist"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--enable-unsafe-swiftshader",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


def route_aladin(page) -> None:
    """Serve ``https://esm.sh/aladin-lite@…`` from the local npm package."""

    def handle(route):
        route.fulfill(
            status=200,
            path=str(ALADIN_DIST / "aladin.js"),
            headers={
                "Content-Type": "application/javascript",
                "Access-Control-Allow-Origin": "*",
            },
        )

    page.route("https://esm.sh/aladin-lite*", handle)
