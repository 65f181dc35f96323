"""Arc-lamp and night-sky line lists shipped with the package: IRAF's (AURA licence), the
NIST arc-lamp lines with their relative intensities (from RASCAL and PypeIt, BSD-3,
`hectornb/data/lamps`) and the measured night sky derived from PypeIt's Paranal sky model
(BSD-3, `hectornb/data/sky`)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np

#: Mercury street-lighting lines over Siding Spring (laboratory air wavelengths, Å).
MERCURY_LINES = (4046.563, 4358.328, 5460.735, 5769.598, 5790.663)


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


#: The spectra an arc lamp shows: its cathode's metal and its argon fill, neutral and once
#: ionised.
LAMP_SPECTRA = {"CuAr": ("ArI", "ArII", "CuI", "CuII"), "FeAr": ("ArI", "ArII", "FeI", "FeII")}
#: Entries of two lists closer than this (Å) are one line.
SAME_LINE = 0.05


def lamps_named(lampname: str) -> tuple[str, ...]:
    """The arc lamps a header's ``LAMPNAME`` names (``"CuAr FeAr"``, ``"CuAr_1 FeAr_1"``)
    that `LAMP_SPECTRA` knows."""
    named = {word.split("_")[0].lower() for word in str(lampname).replace(",", " ").split()}
    return tuple(lamp for lamp in LAMP_SPECTRA if lamp.lower() in named)


@cache
def lamp_lines(
    lamps: tuple[str, ...] = ("CuAr", "FeAr"),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The NIST lines of ``lamps``: air wavelength (Å), NIST relative intensity (comparable
    within one spectrum only) and spectrum (``ArI``, ``CuII``...)."""
    wave, intensity, species = _ecsv_columns("arc_lines.ecsv", "lamps")
    wave, intensity, species = np.array(wave, float), np.array(intensity, float), np.array(species)
    mine = np.isin(species, [s for lamp in lamps for s in LAMP_SPECTRA[lamp]])
    return wave[mine], intensity[mine], species[mine]


@cache
def arc_atlas(lamps: tuple[str, ...] = ("CuAr", "FeAr")) -> np.ndarray:
    """Every line ``lamps`` are known to show (air, Å): NIST's and IRAF's lists, one entry per
    line. The engine identifies arcs with IRAF's lists; the atlas tells it which of their
    lines have neighbours to deblend."""
    listed = [line_list(f"{lamp.lower()}.dat") for lamp in lamps]
    return one_per_line(lamp_lines(lamps)[0], *listed)


def one_per_line(*lists: np.ndarray) -> np.ndarray:
    """The wavelengths (Å) of several line lists, sorted, with entries closer than
    `SAME_LINE` (one line as two lists give it) kept once."""
    waves = np.sort(np.concatenate([np.asarray(w, dtype=float) for w in lists]))
    if len(waves) == 0:
        return waves
    return waves[np.concatenate([[True], np.diff(waves) > SAME_LINE])]


def _ecsv_columns(name: str, folder: str = "sky") -> list[list[str]]:
    text = resources.files("hectornb").joinpath("data", folder, name).read_text()
    rows = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    return [list(col) for col in zip(*rows[1:], strict=True)]  # the first row names them


@cache
def sky_model_lines() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The measured night sky's emission lines: air wavelength (Å), integrated strength
    (the model's units × Å) and what emits each (``OI``, ``NaI``, ``OH``, ``airglow``)."""
    wave, flux, species = _ecsv_columns("sky_lines.ecsv")
    return np.array(wave, float), np.array(flux, float), np.array(species)


@cache
def sky_model_continuum() -> tuple[np.ndarray, np.ndarray]:
    """The measured night sky's continuum under the lines: air wavelength (Å), level per Å."""
    wave, level = _ecsv_columns("sky_continuum.ecsv")
    return np.array(wave, float), np.array(level, float)


def flexure_lines(min_strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The night-sky lines to measure flexure on, with their relative strengths: air
    wavelengths (Å) and strengths (the measured sky's units × Å) of every line of the
    measured sky at least ``min_strength`` (about 0.5 % of [OI] 5577), and the mercury
    lighting lines (strength 1: each stands alone). With their strengths the lines are a
    template of the sky (`hectornb.reduce.builtin.skylines.template_offset`)."""
    wave, flux, _ = sky_model_lines()
    bright = flux >= min_strength
    waves = np.concatenate([wave[bright], MERCURY_LINES])
    strengths = np.concatenate([flux[bright], np.ones(len(MERCURY_LINES))])
    order = np.argsort(waves)
    return waves[order], strengths[order]
