"""The Dask dashboard through the platform: ``hectornb/dask/status`` behind its sign-in.

The reduction runner's Dask dashboard listens on the server's loopback only (it has no
sign-in of its own), so a link to ``http://127.0.0.1:<port>/status`` works only in a browser
on that machine. The dashboard is started under the prefix ``<base>hectornb/dask`` and these
handlers pass requests and the dashboard's websockets through to it, for the signed-in user
of one's own server. Under the data centre's JupyterHub there is no dashboard: it would show
everyone's frames.
"""

from __future__ import annotations

from urllib.parse import urlparse

from jupyter_server.base.handlers import JupyterHandler
from tornado import httpclient, web, websocket

#: Headers not passed through (hop-by-hop, and what the proxy sets itself).
_SKIP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "host",
    "cookie",
    "authorization",
    "proxy-connection",
}


def dashboard_upstream() -> str | None:
    """``127.0.0.1:<port>`` of this process's Dask dashboard, if its cluster is running."""
    from ..reduce.runner import current_runner

    runner = current_runner()
    link = runner.dashboard_upstream if runner is not None else ""
    return urlparse(link).netloc or None


def _upstream_uri(handler: web.RequestHandler) -> str:
    # the signed-in user's token stays here; the rest of the query goes as it came (bytes
    # that are not UTF-8 too); the path is the same under the same prefix
    query = "&".join(
        p for p in handler.request.query.split("&") if p and p.split("=", 1)[0] != "token"
    )
    return handler.request.path + ("?" + query if query else "")


class DashboardHandler(JupyterHandler):
    """Pages, scripts and JSON of the dashboard."""

    @web.authenticated
    async def get(self, path: str = "") -> None:
        if not path:  # the dashboard's own redirect is relative, to a path that is not there
            self.redirect(self.request.path.rstrip("/") + "/status")
            return
        upstream = dashboard_upstream()
        if upstream is None:
            raise web.HTTPError(
                404, "no Dask dashboard yet: the cluster starts with the first reduction request"
            )
        request = httpclient.HTTPRequest(
            f"http://{upstream}{_upstream_uri(self)}",
            follow_redirects=False,
            request_timeout=60,
            headers={k: v for k, v in self.request.headers.items() if k.lower() not in _SKIP},
        )
        response = await httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        if response.code == 599:
            raise web.HTTPError(502, "the Dask dashboard did not answer")
        self.set_status(response.code, response.reason)
        for name, value in response.headers.get_all():
            if name.lower() not in _SKIP and name.lower() != "set-cookie":
                self.add_header(name, value)
        self.finish(response.body or b"")


class DashboardSocketHandler(websocket.WebSocketHandler, JupyterHandler):
    """The dashboard's live plots: a websocket passed through both ways."""

    upstream: websocket.WebSocketClientConnection | None = None

    async def get(self, *args, **kwargs):
        if self.current_user is None:
            raise web.HTTPError(403, "sign in first")
        return await super().get(*args, **kwargs)

    def check_origin(self, origin: str) -> bool:
        return urlparse(origin).netloc == self.request.host

    async def open(self, _path: str = "") -> None:
        upstream = dashboard_upstream()
        if upstream is None:
            self.close(1011, "no Dask dashboard")
            return
        request = httpclient.HTTPRequest(
            f"ws://{upstream}{_upstream_uri(self)}", headers={"Origin": f"http://{upstream}"}
        )
        self.upstream = await websocket.websocket_connect(
            request,
            on_message_callback=self._from_upstream,
            subprotocols=self.request.headers.get("Sec-WebSocket-Protocol", "")
            .replace(" ", "")
            .split(",")
            or None,
        )

    def select_subprotocol(self, subprotocols):
        return subprotocols[0] if subprotocols else None

    def _from_upstream(self, message) -> None:
        if message is None:
            self.close()
            return
        try:
            sent = self.write_message(message, binary=isinstance(message, bytes))
        except websocket.WebSocketClosedError:
            return  # the browser went away mid-stream
        sent.add_done_callback(lambda f: f.exception())  # a late close is not an error

    async def on_message(self, message) -> None:
        if self.upstream is not None:
            await self.upstream.write_message(message, binary=isinstance(message, bytes))

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()


def dask_handlers(u) -> list[tuple]:
    return [
        (u("hectornb/dask/(.*/ws)"), DashboardSocketHandler),
        (u("hectornb/dask/?(.*)"), DashboardHandler),
    ]
