"""The address of the Voilà page a kernel serves, as soon as the server knows it.

An app opened at ``explore.ipynb?job=…`` can start opening the request's product while the
browser is still loading the page's scripts, a second or more before its widget is drawn.

- A kernel Voilà starts for a request has the request's query in ``QUERY_STRING``.
- A preheated kernel ran its notebook before anyone asked for it; when a page takes it,
  Voilà sends it the request over the websocket ``voila/query/<kernel_id>``, which a thread
  waits on here so the notebook and the widget stay responsive. ``hectornb serve`` answers
  that socket only with the key its kernels inherit (`hectornb.server.page_request`), and
  without the page's token.
- In JupyterLab there is no page request, and nothing is called.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from urllib.parse import parse_qsl, quote

from ..config import PAGE_REQUEST_KEY_VARIABLE as KEY_VARIABLE

log = logging.getLogger(__name__)


def _query(text: str) -> dict[str, str]:
    return dict(parse_qsl(text))


def _socket_url() -> str:
    env = os.environ
    base = env.get("VOILA_WS_BASE_URL") or env.get("VOILA_SERVER_URL", "/")
    return (
        f"{env.get('VOILA_WS_PROTOCOL', 'ws')}://{env.get('VOILA_APP_IP', '127.0.0.1')}:"
        f"{env.get('VOILA_APP_PORT', '8866')}{base}voila/query/"
        f"{quote(env['VOILA_KERNEL_ID'])}?key={quote(env[KEY_VARIABLE])}"
    )


def _wait_then(callback: Callable[[dict[str, str]], None]) -> None:
    from websockets.sync.client import connect

    try:
        with connect(_socket_url(), open_timeout=10) as socket:
            info = json.loads(socket.recv())
    except Exception:  # the page still sends its address itself once drawn
        log.debug("no page request from the server", exc_info=True)
        return
    callback(_query(str(info.get("QUERY_STRING", ""))))


def when_page_requested(callback: Callable[[dict[str, str]], None]) -> None:
    """Call ``callback`` with the page's query parameters (``{"job": …, "fibre": …}``).

    Called at once in a kernel started for its page, from a thread when a preheated kernel
    of ``hectornb serve`` is handed to a page, and never outside Voilà.
    """
    mode = os.environ.get("VOILA_PREHEAT")
    if mode == "True" and os.environ.get("VOILA_KERNEL_ID") and os.environ.get(KEY_VARIABLE):
        threading.Thread(
            target=_wait_then, args=(callback,), daemon=True, name="hectornb-page-request"
        ).start()
    elif mode == "False":
        callback(_query(os.environ.get("QUERY_STRING", "")))
