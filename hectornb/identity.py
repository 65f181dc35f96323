"""Who is acting: always taken from the server side, never from a form field."""

from __future__ import annotations

import getpass
import os


def process_user() -> str:
    """The user this process acts for.

    Under JupyterHub the single-user server, and every kernel it starts, carries the Hub's
    authenticated user name in ``JUPYTERHUB_USER``; elsewhere the process belongs to the
    login user who started the server.
    """
    return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
