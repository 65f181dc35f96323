"""The platform's HTTP side: a jupyter_server extension (JupyterLab, JupyterHub) and the
standalone ``hectornb serve`` (Voilà with preheated kernels plus the same handlers)."""

from __future__ import annotations


def _load_jupyter_server_extension(serverapp) -> None:
    from ..config import get_settings

    web_app = serverapp.web_app
    base_url = web_app.settings["base_url"]
    service = get_settings().service_url
    if service:
        # A user's server at a data centre: the service holds the data and the database;
        # this server holds no secret and only points the way there.
        from .client_mode import client_handlers

        web_app.add_handlers(".*$", client_handlers(base_url, service))
        serverapp.log.info("hectornb: a client of the service at %s", service)
        return

    from .apps import packaged_app_handlers
    from .handlers import handlers

    web_app.add_handlers(
        ".*$",
        handlers(base_url, apps_at="hectornb/apps") + packaged_app_handlers(serverapp, base_url),
    )
    serverapp.log.info("hectornb: landing page at %shectornb/", base_url)
    from .startup import start_runners

    if start_runners():
        serverapp.log.info("hectornb: reduction runner started (HECTORNB_RUNNER=embedded)")
