"""The errors hectornb raises on purpose: one root, `HectornbError`, and on each class the
HTTP status the REST API answers with. The API, the command line and the widgets catch
`HectornbError` alone and show its message; anything else is a fault of the platform's,
logged with its traceback, never dressed as a user's mistake.

The kinds also derive from the built-in exception a Python caller expects (`NotFound` is a
`LookupError`, `Invalid` a `ValueError`...), so library code may catch those too.
"""

from __future__ import annotations


class HectornbError(Exception):
    """Something the platform was asked cannot be done; the message says why, in the
    user's terms. ``status``: the HTTP status of the REST API's answer."""

    status: int = 500


class NotFound(HectornbError, LookupError):
    """No such thing (HTTP 404)."""

    status = 404


class Forbidden(HectornbError, PermissionError):
    """The acting user may not do this (HTTP 403)."""

    status = 403


class Invalid(HectornbError, ValueError):
    """The request cannot be carried out as given (HTTP 422); the message says why, and
    ``errors`` may name each bad field (``{"field", "reason"}``)."""

    status = 422
    errors: list[dict] | tuple = ()


class Conflict(Invalid):
    """The thing changed or exists already, so the request would overwrite it (HTTP 409)."""

    status = 409


class Unavailable(HectornbError, RuntimeError):
    """A service the platform needs (its database) does not answer (HTTP 503)."""

    status = 503


class RemoteFailure(HectornbError):
    """A service elsewhere (a remote TAP service, a sky survey) failed or answered what
    cannot be read (HTTP 502); the message names the service and what it said."""

    status = 502


#: How much of a bad value an error message repeats: enough to find it.
SHOWN_CHARS = 60


def quote_field(text: str) -> str:
    """A value as an error message quotes it, cut short if long (a message that repeats a
    5 MB field would be a 5 MB answer)."""
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}… ({len(text):,} characters)"
