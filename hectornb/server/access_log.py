"""The platform's own access log: every request with its status, user, address, duration
and request ID, whatever the libraries loaded later do to logging.

Importing ``distributed`` (on the first reduction) sets tornado's loggers to CRITICAL, which
silenced the server's access lines and every record of a 5xx. So requests are logged through
the ``hectornb.access`` logger, which no library configures, and each response carries its
``X-Request-Id`` so a user's report can be matched to the line.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys

from tornado.web import OutputTransform

from .handlers import request_user

log = logging.getLogger("hectornb.access")
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:token|_xsrf)=)[^&]*")


class RequestId(OutputTransform):
    """Give each request an ID and send it back as ``X-Request-Id``."""

    def __init__(self, request):
        request.request_id = secrets.token_hex(6)
        self._id = request.request_id

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        headers["X-Request-Id"] = self._id
        return status_code, headers, chunk


def log_request(handler) -> None:
    """One line per request: ``STATUS METHOD URI user=… ip=… 12.3ms id=…``; 5xx as errors,
    4xx as warnings, static files only when they fail."""
    status = handler.get_status()
    request = handler.request
    if status < 400 and "/static/" in request.path:
        return
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    name = "-"
    if getattr(handler, "_current_user", None) is not None:  # never authenticate just to log
        try:
            name = request_user(handler)
        except Exception:  # a handler of another kind: its own idea of a user
            name = getattr(handler._current_user, "username", "?")
    log.log(
        level,
        "%d %s %s user=%s ip=%s %.1fms id=%s",
        status,
        request.method,
        _shown(request.uri),
        name,
        request.remote_ip,
        1000.0 * request.request_time(),
        getattr(request, "request_id", "-"),
    )


def _shown(uri: str) -> str:
    """The URI as logged: secrets masked, and cut at 300 characters."""
    uri = _SECRET_PARAMS.sub(r"\1[secret]", uri)
    return uri if len(uri) <= 300 else uri[:300] + f"…({len(uri)} chars)"


def install(app) -> None:
    """Log ``app``'s requests through ``hectornb.access`` (to stderr unless configured)."""
    app.add_transform(RequestId)
    app.settings["log_function"] = log_request
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)1.1s %(asctime)s hectornb] %(message)s", "%Y-%m-%d %H:%M:%S"
            )
        )
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
