"""The observing log (Obslog): targets, stars, tiles, runs and night-log entries, every edit
kept as a version."""

from .schema import COLLECTIONS, Collection, Field, FieldErrors, collection, validate
from .store import Conflict, ObslogStore


def obslog_store():
    """The observing log: in the platform's database, or (in a user's server at a data
    centre, ``HECTORNB_SERVICE_URL``) the service's."""
    from ..config import get_settings

    if get_settings().service_url:
        from .remote import RemoteObslogStore

        return RemoteObslogStore()
    return ObslogStore()


__all__ = [
    "COLLECTIONS",
    "Collection",
    "Conflict",
    "Field",
    "FieldErrors",
    "ObslogStore",
    "collection",
    "obslog_store",
    "validate",
]
