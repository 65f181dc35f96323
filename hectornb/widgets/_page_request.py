"""The address of the Voilà page a kernel serves, as soon as the server knows it.

An app opened at ``explore.ipynb?job=…`` can start opening the request's product while the
browser is still loading the page's scripts, a second or more before its widget is drawn.

- A kernel Voilà starts for a request has the request's query in ``QUERY_STRING``.
- A preheated kernel ran its notebook before anyone asked for it; when a page takes it,
  Voilà sends it the request over a websocket (``voila.utils.wait_for_request``), which a
  thread waits for here so the notebook and the widget stay responsive.
- In JupyterLab there is no page request, and nothing is called.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from urllib.parse import parse_qsl

log = logging.getLogger(__name__)


def _query() -> dict[str, str]:
    return dict(parse_qsl(os.environ.get("QUERY_STRING", "")))


def _wait_then(callback: Callable[[dict[str, str]], None]) -> None:
    from voila.utils import wait_for_request

    try:
        wait_for_request()
    except Exception:  # the page still sends its address itself once drawn
        log.debug("no page request from Voilà", exc_info=True)
        return
    callback(_query())


def when_page_requested(callback: Callable[[dict[str, str]], None]) -> None:
    """Call ``callback`` with the page's query parameters (``{"job": …, "fibre": …}``).

    Called at once in a kernel started for its page, from a thread when a preheated kernel
    is handed to a page, and never outside Voilà.
    """
    mode = os.environ.get("VOILA_PREHEAT")
    if mode == "True" and os.environ.get("VOILA_KERNEL_ID"):
        threading.Thread(target=_wait_then, args=(callback,), daemon=True,
                         name="hectornb-page-request").start()  # fmt: skip
    elif mode == "False":
        callback(_query())
