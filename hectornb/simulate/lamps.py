"""The calibration lamps of the simulated AAOmega: arcs with real line ratios, a quartz flat.

Arc lines come from ``hectornb/data/lamps/arc_lines.ecsv``: the NIST Atomic Spectra
Database's relative intensities of Ar I, Ar II, Cu I, Cu II, Fe I and Fe II (see its
``SOURCE.md``). NIST's intensities compare the lines of one spectrum, not one spectrum with
another, so how bright each spectrum is in a lamp is set here (`SPECTRUM_LEVELS`): the red
Ar I lines dominate a hollow-cathode arc, and the blue arm sees Ar II and the cathode's metal
lines some tens of times fainter. Those levels are this module's assumption, not a
measurement.

What the engine knows of a lamp (`hectornb.instrument.arc_atlas`) is not quite the lamp:

- each line's strength differs from NIST's by a factor of up to ~2 (`LAMP_SCATTER` dex), as
  a lamp at the telescope differs from NIST's sources;
- IRAF's lines that NIST's short list lacks (many Fe I lines) are as bright as the lamp's
  lines nearby, within a factor of ten;
- impurity lines that no list names (`IMPURITIES` per 100 Å) lie among them, faint.

Flats are a quartz-halogen lamp, a black body at `QUARTZ_TEMPERATURE`, seen through the
grating's efficiency: few counts at the blue end of 580V, many at the red.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..instrument import lamp_lines, line_list
from ..instrument.linelists import SAME_LINE

#: Brightest line of each spectrum in a lamp, relative to the brightest Ar I line.
SPECTRUM_LEVELS = {"ArI": 1.0, "ArII": 0.05, "CuI": 0.03, "CuII": 0.03, "FeI": 0.1, "FeII": 0.02}
#: Scatter (dex) of a line's strength in the simulated lamp about NIST's.
LAMP_SCATTER = 0.15
#: Lines per 100 Å that no list names, at most a tenth of the lamp's lines nearby.
IMPURITIES = 1.0
#: Colour temperature of the flat-field lamp (K).
QUARTZ_TEMPERATURE = 3000.0


def _local_level(at: np.ndarray, wave: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Median strength of the lines within 300 Å of each wavelength in ``at``."""
    return np.array([np.median(strength[np.abs(wave - w) < 300.0]) for w in at])


@cache
def arc_lamp_lines(
    lamps: tuple[str, ...] = ("CuAr", "FeAr"), seed: int = 2654435761
) -> tuple[np.ndarray, np.ndarray]:
    """Air wavelengths (Å) and strengths (the brightest Ar I line of one lamp is 1) of an arc
    taken with ``lamps`` on together. The same lamps give the same lines every time."""
    rng = np.random.default_rng(seed)
    wave, strength = [], []
    for lamp in lamps:
        w, intensity, species = lamp_lines((lamp,))
        level = np.array([SPECTRUM_LEVELS[s] for s in species])
        peak = {s: intensity[species == s].max() for s in set(species)}
        scale = np.array([peak[s] for s in species])
        wave.append(w)
        strength.append(level * intensity / scale * 10 ** rng.normal(0, LAMP_SCATTER, len(w)))
    nist_wave, nist_strength = np.concatenate(wave), np.concatenate(strength)
    listed = np.concatenate([line_list(f"{lamp.lower()}.dat") for lamp in lamps])
    nearest = np.abs(listed[:, None] - nist_wave[None, :]).min(axis=1)
    lo, hi = nist_wave.min(), nist_wave.max()
    unmeasured = np.unique(listed[(nearest > SAME_LINE) & (listed > lo) & (listed < hi)])
    unmeasured_strength = _local_level(unmeasured, nist_wave, nist_strength) * 10 ** rng.uniform(
        -1, 0, len(unmeasured)
    )
    impurity = rng.uniform(lo, hi, int(IMPURITIES * (hi - lo) / 100))
    impurity_strength = (
        0.1
        * _local_level(impurity, nist_wave, nist_strength)
        * 10 ** rng.uniform(-1, 0, len(impurity))
    )
    waves = np.concatenate([nist_wave, unmeasured, impurity])
    strengths = np.concatenate([nist_strength, unmeasured_strength, impurity_strength])
    order = np.argsort(waves)
    return waves[order], strengths[order]


def quartz(wave: np.ndarray, centre: float, span: float) -> np.ndarray:
    """A quartz lamp through a grating, 1 at ``centre``: a black body at
    `QUARTZ_TEMPERATURE` times the grating's efficiency, a Gaussian of width ``span``
    (Å) about its centre."""

    def planck(w: np.ndarray) -> np.ndarray:
        x = 1.438777e8 / (w * QUARTZ_TEMPERATURE)  # hc/(λkT), λ in Å
        return w**-5 / np.expm1(x)

    return planck(wave) / planck(np.array(centre)) * np.exp(-0.5 * ((wave - centre) / span) ** 2)
