"""``hectornb serve`` as the data centre's JupyterHub service.

JupyterHub starts a managed service with ``JUPYTERHUB_SERVICE_NAME``, ``_URL``, ``_PREFIX``,
``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_CLIENT_ID`` and the OAuth settings in its environment
(an external service is given the same by its operator). The service then:

- listens where ``JUPYTERHUB_SERVICE_URL`` says and serves everything under
  ``JUPYTERHUB_SERVICE_PREFIX`` (``/services/hectornb/``), behind the Hub's proxy;
- signs people in with the Hub's OAuth and accepts Hub tokens from scripts (pyvo, the
  `hectornb.client`, a user's kernel), both through `jupyterhub.services.auth.HubOAuth`, and
  lets in only holders of ``access:services!service=NAME``;
- keeps its own ``hnb_`` API tokens working beside them.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from jupyter_server.utils import url_path_join
from jupyterhub.singleuser.extension import (
    JupyterHubIdentityProvider,
    JupyterHubOAuthCallbackHandler,
)


class ServiceIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's identity provider (Hub OAuth for browsers, Hub tokens for scripts),
    with its callback and logout pages under the service's prefix."""

    def get_handlers(self) -> list[tuple]:
        prefix = self.hub_auth.base_url
        callback = urlparse(self.hub_auth.oauth_redirect_uri).path or url_path_join(
            prefix, "oauth_callback"
        )
        return [
            (url_path_join(prefix, "logout"), self.logout_handler_class),
            (callback, JupyterHubOAuthCallbackHandler, {"hub_auth": self.hub_auth}),
        ]


def service_arguments() -> list[str]:
    """Voilà options that put ``hectornb serve`` where the Hub expects its service."""
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL") or "http://127.0.0.1:10101")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/services/hectornb/"
    return [
        f"--port={url.port or 80}",
        f"--Voila.ip={url.hostname or '127.0.0.1'}",
        f"--Voila.base_url={prefix}",
        "--Voila.identity_provider_class=hectornb.server.hub.ServiceIdentityProvider",
        "--no-browser",
    ]
