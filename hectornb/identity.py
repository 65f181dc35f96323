"""Who is acting: always taken from the server side, never from a form field."""

from __future__ import annotations

import getpass
import os

from .errors import Forbidden

#: Set by JupyterHub in the environment of a service it manages (and by the operator for an
#: external one): this process is the data centre's trusted service, or one of its kernels.
SERVICE_NAME_ENV = "JUPYTERHUB_SERVICE_NAME"
#: Where the service's Voilà handler puts the signed-in user, as the kernel receives it.
PAGE_USER_ENV = "HTTP_X_HECTORNB_USER"


def is_hub_service() -> bool:
    """Whether this process is (or was started by) the platform's JupyterHub service."""
    return bool(os.environ.get(SERVICE_NAME_ENV))


def _is_voila_kernel() -> bool:
    return "VOILA_PREHEAT" in os.environ  # Voilà sets it, "True" or "False", in its kernels


def page_user() -> str:
    """The person a Voilà page of the JupyterHub service was opened by.

    A preheated kernel runs the app's notebook before anyone asks for the page; it waits
    here until Voilà passes it the request, whose signed-in user the service wrote into a
    header of its own (see `hectornb.server.apps`).
    """
    from voila.utils import wait_for_request

    if PAGE_USER_ENV not in os.environ:
        wait_for_request()
    user = os.environ.get(PAGE_USER_ENV, "")
    if not user:
        raise Forbidden("this page has no signed-in user")
    return user


def process_user() -> str:
    """The user this process acts for.

    - In a Voilà kernel of the JupyterHub service: the person who opened the page.
    - Under JupyterHub otherwise, a single-user server and every kernel it starts carry the
      Hub's authenticated user name in ``JUPYTERHUB_USER``.
    - Elsewhere the process belongs to the login user who started the server.
    """
    if is_hub_service() and _is_voila_kernel():
        return page_user()
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
