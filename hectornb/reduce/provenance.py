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


#: The inputs whose data (fibre table included) a step's product carries.
_CARRIED = ("raw", "frames", "blue", "red")


@dataclass(frozen=True)
class Source:
    """One file a product depends on: its DataLink ``semantics``, the ``name`` the file
    endpoint knows it by, its path and what it is, and the raw frames whose contents it
    carries (a calibration holds its raw frame's fibre table: that frame's programme's)."""

    semantics: str
    name: str
    path: Path
    description: str
    raw: tuple[str, ...] = ()

    @property
    def content_type(self) -> str:
        return "application/pdf" if self.path.suffix == ".pdf" else "application/fits"


def sources(plan: dict | None, product: Path, outdir: str | Path | None = None) -> list[Source]:
    """The product itself, its PDF, and every input its step read (from the request's
    ``plan``, whose step outputs are relative to the request's folder ``outdir``)."""
    steps = {
        Path(outdir or product.parent) / step.get("output", ""): step.get("inputs") or {}
        for step in (plan or {}).get("steps", [])
    }
    own = tuple(_raw_frames(steps, product))
    out = [
        Source("#progenitor", "product", product, "the reduced product (every fibre)", own),
        Source("#auxiliary", "pdf", product.with_suffix(".pdf"), "a PDF of every spectrum", own),
    ]
    for role, value in steps.get(product, {}).items():
        if role not in ROLES or not value:
            continue
        semantics, what = ROLES[role]
        paths = value if isinstance(value, list) else [value]
        for k, path in enumerate(paths):
            name = role if len(paths) == 1 else f"{role}-{k + 1}"
            raw = tuple(_raw_frames(steps, Path(path)))
            out.append(Source(semantics, name, Path(path), f"{what}: {Path(path).name}", raw))
    return out


def _raw_frames(steps: dict[Path, dict], path: Path, depth: int = 0) -> list[str]:
    """The raw frames whose contents ``path`` carries: itself if no step wrote it, else those
    of the inputs whose data the step copies (the frame reduced, the frames combined, the
    arms spliced; a calibration applied leaves its fibre table behind)."""
    inputs = steps.get(Path(path))
    if inputs is None or depth > 8:
        return [str(path)]
    out: list[str] = []
    for role, value in inputs.items():
        if role not in _CARRIED:
            continue
        for p in value if isinstance(value, list) else [value]:
            out += _raw_frames(steps, Path(p), depth + 1)
    return sorted(set(out))
