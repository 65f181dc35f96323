"""The platform's HTTP side: a jupyter_server extension (JupyterLab, JupyterHub) and the
standalone ``hectornb serve`` (Voilà with preheated kernels plus the same handlers)."""

from __future__ import annotations


def _load_jupyter_server_extension(serverapp) -> None:
    from .handlers import handlers

    web_app = serverapp.web_app
    web_app.add_handlers(".*$", handlers(web_app.settings["base_url"]))
    serverapp.log.info("hectornb: landing page at %shectornb/", web_app.settings["base_url"])
    from ..reduce.service import ensure_runner

    if ensure_runner() is not None:  # a thread; its Dask cluster starts with a first request
        serverapp.log.info("hectornb: reduction runner started (HECTORNB_RUNNER=embedded)")
    from .tap_api import start_tap_runner

    start_tap_runner()
