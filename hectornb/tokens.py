"""API tokens for scripts: created and revoked by their user, stored as hashes.

A script sends ``Authorization: token hnb_…`` and acts as the user who created the token,
on the platform's REST API only (not on the Jupyter server's own API). The token is shown
once; the database keeps its SHA-256, so a copy of the database gives no one's tokens.
A token lasts ``HECTORNB_TOKEN_DAYS`` (365) days from its creation: one forgotten in a
script, or held by someone who has left, does not work for ever.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from .config import Settings, get_settings
from .db import engine
from .errors import Forbidden, Invalid, NotFound

PREFIX = "hnb_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(user: str, name: str, settings: Settings | None = None) -> dict:
    """A new token for ``user``; the only time its value is returned."""
    name = name.strip()
    if not name or len(name) > 100:
        raise Invalid("give the token a name (what script uses it), up to 100 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    token_id = str(uuid.uuid4())
    with engine.connect(settings) as conn:
        row = conn.execute(
            "INSERT INTO api_token (id, username, name, token_hash) VALUES (%s, %s, %s, %s)"
            " RETURNING id, name, created",
            (token_id, user, name, _hash(token)),
        ).fetchone()
    return {"id": str(row["id"]), "name": row["name"], "created": row["created"], "token": token}


def list_tokens(user: str, settings: Settings | None = None) -> list[dict]:
    """The user's tokens (never their values), newest first."""
    with engine.connect(settings) as conn:
        rows = conn.execute(
            "SELECT id, name, created, last_used, revoked FROM api_token WHERE username = %s"
            " ORDER BY created DESC",
            (user,),
        ).fetchall()
    return [{**r, "id": str(r["id"])} for r in rows]


def revoke(user: str, token_id: str, settings: Settings | None = None) -> None:
    try:
        uuid.UUID(token_id)
    except ValueError:
        raise NotFound(f"no token {token_id!r}") from None
    with engine.connect(settings) as conn:
        row = conn.execute("SELECT username FROM api_token WHERE id = %s", (token_id,)).fetchone()
        if row is None:
            raise NotFound(f"no token {token_id}")
        if row["username"] != user:
            raise Forbidden(f"token {token_id} belongs to another user")
        conn.execute(
            "UPDATE api_token SET revoked = coalesce(revoked, now()) WHERE id = %s", (token_id,)
        )


def user_of(token: str, settings: Settings | None = None) -> str | None:
    """The user a token acts for; None for an unknown, revoked or expired one."""
    if not token.startswith(PREFIX):
        return None
    days = (settings or get_settings()).token_days
    with engine.connect(settings) as conn:
        row = conn.execute(
            "UPDATE api_token SET last_used = now() WHERE token_hash = %s AND revoked IS NULL"
            " AND created > now() - make_interval(days => %s) RETURNING username",
            (_hash(token), days),
        ).fetchone()
    return row["username"] if row else None
