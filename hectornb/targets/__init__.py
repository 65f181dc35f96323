"""Target lists and their BADCLASS classifications (the Classify app's domain and storage).

>>> from hectornb.targets import read_target_list, target_store
>>> targets = read_target_list("pne.csv")           # doctest: +SKIP
>>> target_store().import_list(targets, "pne", owner="me")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from ..config import Settings
    from .model import TargetStore

# Names load on first use (see `hectornb._lazy`): checking a file (``hectornb targets
# validate``) needs neither the database driver nor astropy's units.
__getattr__, __dir__, _names = lazy_names(
    __name__,
    {
        "BADCLASSES": ".badclass",
        "BadClass": ".badclass",
        "badclass": ".badclass",
        "export_csv": ".export",
        "export_csv_chunks": ".export",
        "LineError": ".parse",
        "TargetList": ".parse",
        "TargetListError": ".parse",
        "parse_target_bytes": ".parse",
        "read_target_list": ".parse",
        "Forbidden": ".model",
        "ImportResult": ".model",
        "NotFound": ".model",
        "Page": ".model",
        "TargetFilter": ".model",
        "TargetStore": ".model",
        "TargetStoreError": ".model",
        "PostgresTargetStore": ".store",
    },
)


def target_store(settings: Settings | None = None) -> TargetStore:
    """The configured target store: PostgreSQL, or MongoDB for a ``mongodb://`` targets URL;
    in a user's server at a data centre (``HECTORNB_SERVICE_URL``), the service's."""
    from ..config import get_settings
    from .store import PostgresTargetStore

    settings = settings or get_settings()
    if settings.service_url:
        from .remote import RemoteTargetStore

        return RemoteTargetStore()
    url = settings.targets_url
    if url and url.startswith(("mongodb://", "mongodb+srv://", "montydb:")):
        from .mongo import MongoTargetStore

        return MongoTargetStore(url)
    return PostgresTargetStore(settings)


__all__ = [*_names, "target_store"]
