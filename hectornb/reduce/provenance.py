"""Where a reduced product came from: the frames and calibrations its step read.

A request's plan records each step's inputs by role; for one product this gives the raw
frame (or the reduced frames combined, or the arms spliced), and the tramline map, arc,
fibre flat, bias and dark it was calibrated with. DataLink serves them as the spectrum's
``#progenitor`` and ``#calibration`` links; the product's PDF is its ``#auxiliary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: role -> (DataLink semantics, what it is)
ROLES = {
    "raw": ("#progenitor", "the raw frame"),
    "frames": ("#progenitor", "a reduced frame of the combination"),
    "blue": ("#progenitor", "the blue arm's product"),
    "red": ("#progenitor", "the red arm's product"),
    "tlm": ("#calibration", "the tramline map"),
    "arc": ("#calibration", "the arc (wavelength solution)"),
    "fflat": ("#calibration", "the fibre flat"),
    "bias": ("#calibration", "the master bias"),
    "dark": ("#calibration", "the master dark"),
}


@dataclass(frozen=True)
class Source:
    """One file a product depends on: its DataLink ``semantics``, the ``name`` the file
    endpoint knows it by, its path and what it is."""

    semantics: str
    name: str
    path: Path
    description: str

    @property
    def content_type(self) -> str:
        return "application/pdf" if self.path.suffix == ".pdf" else "application/fits"


def sources(plan: dict | None, product: Path, outdir: str | Path | None = None) -> list[Source]:
    """The product itself, its PDF, and every input its step read (from the request's
    ``plan``, whose step outputs are relative to the request's folder ``outdir``)."""
    out = [
        Source("#progenitor", "product", product, "the reduced product (every fibre)"),
        Source("#auxiliary", "pdf", product.with_suffix(".pdf"), "a PDF of every spectrum"),
    ]
    for step in (plan or {}).get("steps", []):
        output = Path(outdir or product.parent) / step.get("output", "")
        if output != product or not step.get("inputs"):
            continue
        for role, value in step["inputs"].items():
            if role not in ROLES or not value:
                continue
            semantics, what = ROLES[role]
            paths = value if isinstance(value, list) else [value]
            for k, path in enumerate(paths):
                name = role if len(paths) == 1 else f"{role}-{k + 1}"
                out.append(Source(semantics, name, Path(path), f"{what}: {Path(path).name}"))
        break
    return out


def source(plan: dict | None, product: Path, outdir: str | Path | None, name: str) -> Source | None:
    """The source called ``name`` (as `sources` names them), or None."""
    return next((s for s in sources(plan, product, outdir) if s.name == name), None)
