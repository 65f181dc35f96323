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
