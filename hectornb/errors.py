"""Errors every service raises alike, so the REST API maps them to one status each."""

from __future__ import annotations


class NotFound(LookupError):
    """No such thing (HTTP 404)."""


class Forbidden(PermissionError):
    """The acting user may not do this (HTTP 403)."""


class Invalid(ValueError):
    """The request cannot be carried out as given (HTTP 422); the message says why, and
    ``errors`` may name each bad field (``{"field", "reason"}``)."""

    errors: list[dict] | tuple = ()


class Conflict(Invalid):
    """The thing changed or exists already, so the request would overwrite it (HTTP 409)."""


#: How much of a bad value an error message repeats: enough to find it.
SHOWN_CHARS = 60


def quote_field(text: str) -> str:
    """A value as an error message quotes it, cut short if long (a message that repeats a
    5 MB field would be a 5 MB answer)."""
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}… ({len(text):,} characters)"
