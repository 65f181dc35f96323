"""Arc-lamp and night-sky line lists shipped with the package (IRAF's, AURA licence)."""

from __future__ import annotations

from importlib import resources

import numpy as np


def line_list(name: str) -> np.ndarray:
    """Wavelengths (Angstrom, air) of ``cuar.dat``, ``fear.dat`` or ``skylines.dat``."""
    text = resources.files("hectornb").joinpath("data", "linelists", name).read_text()
    out = []
    for line in text.splitlines():
        parts = line.split()
        if parts and not line.lstrip().startswith("#"):
            try:
                out.append(float(parts[0]))
            except ValueError:
                continue
    return np.array(out)


def arc_lines() -> np.ndarray:
    """The CuAr and FeAr lines the AAOmega arcs show."""
    return np.concatenate([line_list("cuar.dat"), line_list("fear.dat")])
