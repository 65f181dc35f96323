"""The observing log (Obslog): targets, stars, tiles, runs and night-log entries, every edit
kept as a version."""

from .schema import COLLECTIONS, Collection, Field, FieldErrors, collection, validate
from .store import Conflict, ObslogStore

__all__ = ["COLLECTIONS", "Collection", "Conflict", "Field", "FieldErrors", "ObslogStore",
           "collection", "validate"]
