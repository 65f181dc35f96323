"""What every server of the platform starts besides its handlers, whichever way it runs
(``hectornb serve``, or the extension in a JupyterLab or JupyterHub server)."""

from __future__ import annotations

from ..config import Settings


def start_runners(settings: Settings | None = None) -> bool:
    """Start this server's job runners: the reduction requests' (unless
    ``HECTORNB_RUNNER=external``, where a ``hectornb reduce runner`` service runs them; its
    Dask cluster starts with a first request) and the TAP jobs' (including those a restart
    cut off). Returns whether the reduction runner runs here."""
    from ..reduce.runner import ensure_runner
    from .tap_api import start_tap_runner

    reducing = ensure_runner(settings) is not None
    start_tap_runner()
    return reducing
