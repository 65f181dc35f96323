"""The front-end module of an app: the shared helpers (``common.js``) then the app's own;
and where the page finds the platform's REST API."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def esm(name: str) -> str:
    """``base_url.js`` and ``common.js`` followed by ``<name>.js``: an anywidget module is one
    file."""
    return "\n".join(
        (_HERE / f).read_text("utf-8") for f in ("base_url.js", "common.js", f"{name}.js")
    )


def service_api() -> str:
    """The REST API's path for the page when this server is a client of the data centre's
    service (behind the same Hub proxy as the page), else "" (this server's own API)."""
    from urllib.parse import urlparse

    from ..config import get_settings

    url = get_settings().service_url
    return f"{urlparse(url).path.rstrip('/')}/hectornb/api/" if url else ""
