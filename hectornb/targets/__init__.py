"""Target lists and their BADCLASS classifications (the Classify app's domain and storage).

>>> from hectornb.targets import read_target_list, target_store
>>> targets = read_target_list("pne.csv")           # doctest: +SKIP
>>> target_store().import_list(targets, "pne", owner="me")  # doctest: +SKIP
"""

from __future__ import annotations

from ..config import Settings, get_settings
from .badclass import BADCLASSES, BadClass, badclass
from .export import export_csv, export_csv_chunks
from .parse import LineError, TargetList, TargetListError, parse_target_bytes, read_target_list
from .store import (
    Forbidden,
    ImportResult,
    NotFound,
    Page,
    PostgresTargetStore,
    TargetFilter,
    TargetStoreError,
)


def target_store(settings: Settings | None = None):
    """The configured target store: PostgreSQL, or MongoDB for a ``mongodb://`` targets URL;
    in a user's server at a data centre (``HECTORNB_SERVICE_URL``), the service's."""
    settings = settings or get_settings()
    if settings.service_url:
        from .remote import RemoteTargetStore

        return RemoteTargetStore()
    url = settings.targets_url
    if url and url.startswith(("mongodb://", "mongodb+srv://", "montydb:")):
        from .mongo import MongoTargetStore

        return MongoTargetStore(url)
    return PostgresTargetStore(settings)


__all__ = [
    "BADCLASSES",
    "BadClass",
    "Forbidden",
    "ImportResult",
    "LineError",
    "NotFound",
    "Page",
    "PostgresTargetStore",
    "TargetFilter",
    "TargetList",
    "TargetListError",
    "TargetStoreError",
    "badclass",
    "export_csv",
    "export_csv_chunks",
    "parse_target_bytes",
    "read_target_list",
    "target_store",
]
