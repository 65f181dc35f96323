"""Finding reduced products to explore: in a folder, or among a reduction request's outputs.

A product is a FITS file of extracted spectra: a primary image of fibres x pixels (or one
spectrum), a ``VARIANCE`` extension and a fibre table; raw frames have no ``VARIANCE``.
"""

from __future__ import annotations

from pathlib import Path

from astropy.io import fits

from .io import FIBRE_TABLE_NAMES

#: Real 2dfdr products shipped with the package (AAOmega 385R, from the Marz test suite).
EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "aaomega-2dfdr-reduced"


def is_product(path: str | Path) -> bool:
    """Whether ``path`` is a reduced 2dfdr-format product (not a raw frame, not a PDF)."""
    path = Path(path)
    if path.suffix.lower() not in (".fits", ".fit", ".fts") or path.name.startswith("."):
        return False
    try:
        with fits.open(path, lazy_load_hdus=True) as hdul:
            names = {h.name for h in hdul}
    except (OSError, ValueError):
        return False
    return "VARIANCE" in names and bool(names & set(FIBRE_TABLE_NAMES))


def find_products(folder: str | Path) -> list[tuple[str, Path]]:
    """Every product under ``folder``, as (path relative to the folder, path), sorted the
    way a request lists them: by arm directory, then by name."""
    folder = Path(folder)
    found = [p for p in sorted(folder.rglob("*.fits")) if is_product(p)]
    return [(str(p.relative_to(folder)), p) for p in found]
