"""The extension in a user's server at a data centre (``HECTORNB_SERVICE_URL`` set).

The service holds the database and the data; this server only sends its user there: the
landing page and the app links of a user's server lead to the service's own pages, which
sign the user in with the Hub.
"""

from __future__ import annotations

from urllib.parse import urlparse

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web


class ToServiceHandler(JupyterHandler):
    """Redirects a page of this server to the same page of the service."""

    def initialize(self, target: str) -> None:
        self.target = target

    @web.authenticated
    def get(self, app: str = "") -> None:
        page = url_path_join(self.target, "voila/render", app) if app else self.target
        query = self.request.query
        self.redirect(page + (f"?{query}" if query else ""))


def client_handlers(base_url: str, service_url: str) -> list[tuple]:
    """Routes of a user's server that lead to the service (same origin: the Hub's proxy)."""
    from .handlers import static_handlers

    service_path = urlparse(service_url).path or "/"
    landing = url_path_join(service_path, "hectornb/")
    return [
        *static_handlers(base_url),
        (url_path_join(base_url, "hectornb/?"), ToServiceHandler, {"target": landing}),
        (
            url_path_join(base_url, r"hectornb/apps/([a-z]+\.ipynb)"),
            ToServiceHandler,
            {"target": service_path},
        ),
    ]
