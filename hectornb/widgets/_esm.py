"""The front-end module of an app: the shared helpers (``common.js``) then the app's own."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def esm(name: str) -> str:
    """``common.js`` followed by ``<name>.js``: an anywidget module is one file."""
    return (_HERE / "common.js").read_text("utf-8") + "\n" + (_HERE / f"{name}.js").read_text(
        "utf-8")
