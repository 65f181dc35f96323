"""The apps' kernels: given back once their page has gone, never while a page is coming.

Voilà hands a page a kernel (a preheated one, or one started for it), then the page connects
to it over a websocket. A kernel whose page has gone (closed, reloaded) has no connection and
is stopped once idle for ``HECTORNB_PAGE_KERNEL_GRACE`` by jupyter_server's culler. But a
kernel just handed to a page has no connection either, for the second or so until the page
connects, and a preheated kernel has been idle since it was preheated: the culler would stop
it under the page. So a kernel no page has connected to yet is left alone for
`PageKernelManager.unclaimed_timeout` from when the culler first sees it out of the pool.
And the grace counts from when its page went, not from the kernel's last output: a page
idle for minutes whose network drops for a moment finds its kernel when it reconnects.
"""

from __future__ import annotations

import logging
import time

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Integer


class PageKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager, culling only kernels a page has been connected to
    (or that no page has claimed for ``unclaimed_timeout`` seconds)."""

    unclaimed_timeout = Integer(
        600, config=True, help="seconds a kernel no page has connected to is kept"
    )

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._claimed: set[str] = set()
        self._unclaimed_since: dict[str, float] = {}
        self._gone_since: dict[str, float] = {}  # when its last page disconnected
        self.log.addFilter(_page_gone)

    def notify_connect(self, kernel_id: str) -> None:
        self._claimed.add(kernel_id)
        self._unclaimed_since.pop(kernel_id, None)
        self._gone_since.pop(kernel_id, None)
        super().notify_connect(kernel_id)

    def notify_disconnect(self, kernel_id: str) -> None:
        super().notify_disconnect(kernel_id)
        if not self._kernel_connections.get(kernel_id):
            self._gone_since[kernel_id] = time.monotonic()

    def remove_kernel(self, kernel_id: str):
        from .page_request import forget

        forget(kernel_id)
        self._claimed.discard(kernel_id)
        self._unclaimed_since.pop(kernel_id, None)
        self._gone_since.pop(kernel_id, None)
        return super().remove_kernel(kernel_id)

    async def cull_kernel_if_idle(self, kernel_id: str):
        now = time.monotonic()
        if kernel_id not in self._claimed:
            since = self._unclaimed_since.setdefault(kernel_id, now)
            if now - since < self.unclaimed_timeout:
                return None  # on its way to a page
        elif now - self._gone_since.get(kernel_id, 0.0) < self.cull_idle_timeout:
            return None  # its page went only just now (or has a moment's network trouble)
        return await super().cull_kernel_if_idle(kernel_id)


def _page_gone(record: logging.LogRecord) -> bool:
    """jupyter_server warns of every kernel it culls; here that is a page closed, which is
    routine: said at INFO level, in those words."""
    args = record.args if isinstance(record.args, tuple) else ()
    if (
        record.levelno == logging.WARNING
        and str(record.msg).startswith("Culling '")
        and len(args) == 5
    ):
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.msg = "kernel %s given back: its page has gone and it was idle %s s"
        record.args = (args[2], args[4])
    return True
