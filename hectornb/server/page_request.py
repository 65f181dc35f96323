"""Voilà's page-request socket, kept private to the server's own kernels.

When a page takes a preheated kernel, Voilà sends the kernel the page's request (its query
string, headers it was told to pass) over the websocket ``voila/query/<kernel_id>``, which
the kernel opens. Voilà's own handler asks nothing of whoever connects, and kernel ids are
visible to every local user (in ``ps``): anyone on the machine could take a page's request,
``?token=`` and all. This handler, in its place:

- answers only a connection that presents the server's page-request key, a secret the
  server's kernels inherit in their environment (`KEY_VARIABLE`) and no one else can read;
- takes one listener per kernel, and forgets what it delivered;
- never passes the page's ``token`` on.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from urllib.parse import parse_qsl, urlencode

from voila.request_info_handler import RequestInfoSocketHandler

from ..config import PAGE_REQUEST_KEY_VARIABLE as KEY_VARIABLE


def page_request_key() -> str:
    """The server's page-request key, made on first use and put in the environment its
    kernels inherit."""
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        key = os.environ[KEY_VARIABLE] = secrets.token_urlsafe(32)
    return key


def without_token(payload: str | dict) -> str:
    """The request info with ``token`` taken out of its query string."""
    info = json.loads(payload) if isinstance(payload, str) else dict(payload)
    query = parse_qsl(info.get("QUERY_STRING", ""), keep_blank_values=True)
    info["QUERY_STRING"] = urlencode([(k, v) for k, v in query if k != "token"])
    return json.dumps(info)


def forget(kernel_id: str) -> None:
    """Drop what Voilà kept for ``kernel_id`` (a request never collected: the apps that do
    not listen for it leave one per page)."""
    RequestInfoSocketHandler._cache.pop(kernel_id, None)


class PrivatePageRequestSocket(RequestInfoSocketHandler):
    """`voila.request_info_handler.RequestInfoSocketHandler` for the server's kernels only."""

    _kernel_id: str | None = None

    def open(self, kernel_id: str) -> None:
        given = self.get_argument("key", "")
        if (
            not hmac.compare_digest(given.encode(), page_request_key().encode())
            or kernel_id in RequestInfoSocketHandler._waiters
        ):
            self.close(4003, "forbidden")
            return
        self._kernel_id = kernel_id
        RequestInfoSocketHandler._waiters[kernel_id] = self
        cached = RequestInfoSocketHandler._cache.pop(kernel_id, None)
        if cached is not None:
            self.write_message(cached)

    def on_close(self) -> None:
        # Voilà's own removes the first listener it finds, which may be another kernel's
        if self._kernel_id and RequestInfoSocketHandler._waiters.get(self._kernel_id) is self:
            del RequestInfoSocketHandler._waiters[self._kernel_id]

    def write_message(self, message, binary: bool = False):
        return super().write_message(without_token(message), binary)
